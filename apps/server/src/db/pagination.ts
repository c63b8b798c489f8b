import { defaultPageSize } from '@runtools/spec';
import { type Expression, type SelectQueryBuilder, type SqlBool, sql } from 'kysely';
import { invalidQueryField } from '../errors.js';

/**
 * Cursor pagination for list routes. A page is `limit` items in the route's stable order (a unique key: its
 * sort columns end with one that is unique, such as the id), and `nextCursor` names the last one's key, so
 * that the next page starts right after it even when rows were added or removed in between (keyset paging:
 * no offset to skip or repeat rows, and each page costs an index range, not a scan of the pages before it).
 */

/** What a list route's query carries (`?limit=&cursor=`), parsed by its schema. */
export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

type KeyValue = string | number;

/** The key of a row as an opaque, URL-safe cursor. */
export function encodeCursor(key: readonly KeyValue[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * A cursor's key, checked to be what this route's order has: `arity` strings or numbers, each of the type
 * `types` names where it names one (a number where the database compares an integer column).
 */
export function decodeCursor(
  cursor: string,
  arity: number,
  types?: readonly ('string' | 'number' | undefined)[],
): KeyValue[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== arity ||
    !key.every((value) => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) ||
    (types && !key.every((value, index) => types[index] === undefined || typeof value === types[index]))
  )
    throw invalidQueryField('cursor', 'not a cursor this list gave out');
  return key as KeyValue[];
}

export interface SortKey {
  /** A column reference as SQL names it (`created_at`, `members.created_at`). */
  column: string;
  direction: 'asc' | 'desc';
  /** An integer column: a cursor must hold a number for it (a string would fail the query on PostgreSQL). */
  type?: 'number';
}

/**
 * The condition "after `key` in this order" over the sort columns, for a keyset page:
 * `(a > ?) OR (a = ? AND b > ?) …`, with `<` for descending columns.
 */
export function afterKey(order: readonly SortKey[], key: readonly KeyValue[]): Expression<SqlBool> {
  const branches = order.map((sort, index) => {
    const equal = order.slice(0, index).map((earlier, at) => sql`${sql.ref(earlier.column)} = ${key[at]}`);
    const beyond = sql`${sql.ref(sort.column)} ${sql.raw(sort.direction === 'asc' ? '>' : '<')} ${key[index]}`;
    return sql`(${sql.join([...equal, beyond], sql` AND `)})`;
  });
  return sql<SqlBool>`(${sql.join(branches, sql` OR `)})`;
}

/** Oldest first: by creation time, then by id (unique), as most lists are ordered. */
export const oldestFirst: readonly SortKey[] = [
  { column: 'created_at', direction: 'asc' },
  { column: 'id', direction: 'asc' },
];

/** Newest first: by creation time, latest first, then by id (unique). */
export const newestFirst: readonly SortKey[] = [
  { column: 'created_at', direction: 'desc' },
  { column: 'id', direction: 'asc' },
];

/** What `keysetPage` hands its query: the condition to add (none on the first page), the order, the rows to fetch. */
export interface KeysetSelect {
  after: Expression<SqlBool> | undefined;
  order: readonly SortKey[];
  fetch: number;
}

/** The select with a keyset page's condition, order and row count applied. */
export function inPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  keyset: KeysetSelect,
): SelectQueryBuilder<DB, TB, O> {
  let paged = keyset.after ? query.where(keyset.after) : query;
  for (const sort of keyset.order) paged = paged.orderBy(sql.ref(sort.column), sort.direction);
  return paged.limit(keyset.fetch);
}

/**
 * One page of a keyset-paged query. `select` gets the condition to add (none on the first page), the order
 * and the number of rows to fetch (one more than the page, to know whether another follows) and runs it.
 */
export async function keysetPage<Row>(
  page: PageRequest,
  order: readonly SortKey[],
  keyOf: (row: Row) => readonly KeyValue[],
  select: (query: KeysetSelect) => Promise<Row[]>,
): Promise<Page<Row>> {
  const limit = page.limit ?? defaultPageSize;
  const types = order.map((sort) => sort.type);
  const after = page.cursor === undefined ? undefined : afterKey(order, decodeCursor(page.cursor, order.length, types));
  const rows = await select({ after, order, fetch: limit + 1 });
  return pageFrom(rows, limit, keyOf);
}

/**
 * One page of a list held in memory (built-in templates, a sandbox's processes, the model table), already in
 * its stable order: `compare` of the `arity`-long keys `keyOf` gives (ascending by default).
 */
export function memoryPage<T>(
  items: readonly T[],
  page: PageRequest,
  order: { arity: number; keyOf: (item: T) => readonly KeyValue[]; compare?: typeof compareKeys },
): Page<T> {
  const { arity, keyOf, compare = compareKeys } = order;
  const limit = page.limit ?? defaultPageSize;
  const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, arity);
  const rest = start === undefined ? items : items.filter((item) => compare(keyOf(item), start) > 0);
  return pageFrom(rest.slice(0, limit + 1), limit, keyOf);
}

/**
 * One page of a list of fixed entries (built-ins, in their own order) followed by rows read from the database
 * by a unique name. Its key is [rank, name]: a fixed entry's place in `fixed`, or `fixed.length` for every row.
 * `rows(after, fetch)` reads up to `fetch` rows by name, after `after` when given.
 */
export async function fixedThenByName<T>(
  fixed: readonly T[],
  page: PageRequest,
  nameOf: (item: T) => string,
  rows: (after: string | undefined, fetch: number) => Promise<T[]>,
): Promise<Page<T>> {
  const limit = page.limit ?? defaultPageSize;
  const cursor = page.cursor === undefined ? undefined : decodeCursor(page.cursor, 2, ['number', 'string']);
  const rowRank = fixed.length;
  // A cursor among the rows (or past a shorter list of fixed entries) reads on from its name.
  const inRows = cursor !== undefined && (cursor[0] as number) >= rowRank;
  const read = (await rows(inRows ? (cursor[1] as string) : undefined, limit + 1)).map((item) => ({
    item,
    key: [rowRank, nameOf(item)],
  }));
  const ranked = [...fixed.map((item, rank) => ({ item, key: [rank, nameOf(item)] })), ...read];
  const rest =
    cursor === undefined ? ranked : inRows ? read : ranked.filter((entry) => compareKeys(entry.key, cursor) > 0);
  return mapPage(
    pageFrom(rest.slice(0, limit + 1), limit, (entry) => entry.key),
    (entry) => entry.item,
  );
}

/** The page with each item mapped (a row to what the API answers), the cursor kept. */
export function mapPage<T, U>(page: Page<T>, map: (item: T) => U): Page<U> {
  return { data: page.data.map(map), nextCursor: page.nextCursor };
}

/** A page from the rows fetched for it (one more than `limit` when another page follows), in the list's order. */
export function pageFrom<T>(rows: readonly T[], limit: number, keyOf: (row: T) => readonly KeyValue[]): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** Ascending order of keys, element by element. */
export function compareKeys(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const [x, y] = [a[index], b[index]];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}
