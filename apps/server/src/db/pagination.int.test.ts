import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { DomainError } from '../errors.js';
import { type Db, openDatabase } from './database.js';
import { compareKeys, decodeCursor, encodeCursor, keysetPage, memoryPage, type SortKey } from './pagination.js';

let db: Db;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  if (testDatabaseKind() === 'postgres') {
    const database = await createPostgresDatabase();
    db = await openDatabase(database.url);
    cleanup = async () => {
      await db.close();
      await database.drop();
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'runtools-paging-'));
    db = await openDatabase(join(dir, 'runtools.db'));
    cleanup = async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  // 25 orgs whose creation times repeat (five per instant), so that the order needs its tie-breaker.
  const rows = Array.from({ length: 25 }, (_, index) => ({
    id: `org_${String(index).padStart(20, 'a')}`,
    name: `org ${index}`,
    slug: `org-${index}`,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(index / 5))).toISOString(),
  }));
  await db.kysely.insertInto('orgs').values(rows).execute();
});
afterAll(async () => cleanup?.());

const order: SortKey[] = [
  { column: 'created_at', direction: 'desc' },
  { column: 'id', direction: 'asc' },
];

function page(request: { limit?: number; cursor?: string }) {
  return keysetPage(
    request,
    order,
    (row: { id: string; created_at: string }) => [row.created_at, row.id],
    ({ after, fetch }) => {
      let query = db.kysely.selectFrom('orgs').select(['id', 'created_at']).where('slug', 'like', 'org-%');
      if (after) query = query.where(after);
      return query.orderBy('created_at', 'desc').orderBy('id', 'asc').limit(fetch).execute();
    },
  );
}

describe('keyset pages', () => {
  it('walks every row once in the stable order, page by page, and ends with a null cursor', async () => {
    const all = (await page({ limit: 1000 })).data.map((row) => row.id);
    expect(all).toHaveLength(25);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const next = await page({ limit: 4, ...(cursor ? { cursor } : {}) });
      expect(next.data.length).toBeLessThanOrEqual(4);
      seen.push(...next.data.map((row) => row.id));
      cursor = next.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(pages).toBe(7);
    // Newest first, and by id within an instant.
    expect(all.slice(0, 5)).toEqual([20, 21, 22, 23, 24].map((index) => `org_${String(index).padStart(20, 'a')}`));
  });

  it('goes on after the last row seen when rows are added and removed between pages', async () => {
    const first = await page({ limit: 5 });
    await db.kysely
      .deleteFrom('orgs')
      .where('id', '=', (first.data.at(-1) as { id: string }).id)
      .execute();
    await db.kysely
      .insertInto('orgs')
      .values({ id: `org_${'z'.repeat(20)}`, name: 'new', slug: 'org-new', created_at: new Date().toISOString() })
      .execute();
    const second = await page({ limit: 5, cursor: first.nextCursor as string });
    const all = (await page({ limit: 1000 })).data.map((row) => row.id);
    // The second page starts right after the first one's last row (deleted since), and the new newest row does
    // not push a row of the first page into it.
    const resume = all.indexOf((first.data[3] as { id: string }).id) + 1;
    expect(resume).toBeGreaterThan(0);
    expect(second.data.map((row) => row.id)).toEqual(all.slice(resume, resume + 5));
    expect(second.data.map((row) => row.id)).not.toContain(`org_${'z'.repeat(20)}`);
  });

  it('refuses a cursor it did not give out with validation_failed on query.cursor', async () => {
    for (const cursor of ['nope', encodeCursor(['only one']), encodeCursor([{}, 'x'] as never), '%%%']) {
      const error = await page({ cursor }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: 'validation_failed', details: { location: 'query' } });
    }
    expect(decodeCursor(encodeCursor(['a', 2]), 2)).toEqual(['a', 2]);
  });
});

describe('memory pages', () => {
  it('pages a sorted list by key', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const order = { arity: 1, keyOf: (item: string) => [item] };
    const first = memoryPage(items, { limit: 2 }, order);
    expect(first.data).toEqual(['a', 'b']);
    const second = memoryPage(items, { limit: 2, cursor: first.nextCursor as string }, order);
    expect(second.data).toEqual(['c', 'd']);
    expect(memoryPage(items, { limit: 2, cursor: second.nextCursor as string }, order)).toEqual({
      data: ['e'],
      nextCursor: null,
    });
    expect(compareKeys(['a', 2], ['a', 10])).toBeLessThan(0);
  });
});
