import { defaultPageSize, type SecretCategory, type SecretMetadata, type SecretWithValue } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Db } from '../db/database.js';
import { decodeCursor, mapPage, type Page, type PageRequest, pageFrom } from '../db/pagination.js';
import { prepareRead } from '../db/prepared.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { open, type RootKey, seal } from './envelope.js';

export const secretAad = (orgId: string, secretId: string) => `secret\0${orgId}\0${secretId}`;

function metadata(
  row: Pick<Database['secrets'], 'id' | 'name' | 'category' | 'created_at' | 'updated_at'>,
): SecretMetadata {
  return {
    id: row.id,
    name: row.name,
    category: row.category as SecretCategory,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Org secrets, sealed with a fresh data key per write; values only ever leave through `get`. */
export class SecretStore {
  private readonly db: Kysely<Database>;

  constructor(
    database: Db,
    private readonly root: RootKey,
  ) {
    this.db = database.kysely;
    // Listing is a hot read (benchmarked in bench/secrets-list.mjs): its two queries, the first page and a page
    // after a name, are compiled once. By name, which is unique in an org.
    const listed = database.kysely
      .selectFrom('secrets')
      .select(['id', 'name', 'category', 'created_at', 'updated_at'])
      .where('org_id', '=', 'org');
    this.firstPage = prepareRead(database, listed.orderBy('name').limit(1), ['org', 1] as [
      orgId: string,
      fetch: number,
    ]);
    this.pageAfter = prepareRead(database, listed.where('name', '>', 'name').orderBy('name').limit(1), [
      'org',
      'name',
      1,
    ] as [orgId: string, after: string, fetch: number]);
  }

  private readonly firstPage;
  private readonly pageAfter;

  async set(orgId: string, input: { name: string; value: string; category: SecretCategory }): Promise<SecretMetadata> {
    return this.db.transaction().execute(async (trx) => {
      const now = nowIso();
      const existing = await trx
        .selectFrom('secrets')
        .select(['id', 'created_at'])
        .where('org_id', '=', orgId)
        .where('name', '=', input.name)
        .executeTakeFirst();
      const id = existing?.id ?? newId('secret');
      const ciphertext = seal(this.root, secretAad(orgId, id), input.value);
      if (existing) {
        await trx
          .updateTable('secrets')
          .set({ ciphertext, category: input.category, root_key_id: this.root.id, updated_at: now })
          .where('id', '=', id)
          .execute();
      } else {
        await trx
          .insertInto('secrets')
          .values({
            id,
            org_id: orgId,
            name: input.name,
            category: input.category,
            ciphertext,
            root_key_id: this.root.id,
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      return metadata({
        id,
        name: input.name,
        category: input.category,
        created_at: existing?.created_at ?? now,
        updated_at: now,
      });
    });
  }

  /** A page of the org's secrets (metadata, never values), by name. */
  async list(orgId: string, page: PageRequest): Promise<Page<SecretMetadata>> {
    const limit = page.limit ?? defaultPageSize;
    const rows =
      page.cursor === undefined
        ? await this.firstPage(orgId, limit + 1)
        : await this.pageAfter(orgId, decodeCursor(page.cursor, 1, ['string'])[0] as string, limit + 1);
    return mapPage(
      pageFrom(rows, limit, (row) => [row.name]),
      metadata,
    );
  }

  async get(orgId: string, name: string): Promise<SecretWithValue> {
    const row = await this.db
      .selectFrom('secrets')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new DomainError('secret_not_found', `no secret named ${name}`);
    return { ...metadata(row), value: open(this.root, secretAad(orgId, row.id), row.ciphertext) };
  }

  async delete(orgId: string, name: string): Promise<{ id: string }> {
    const row = await this.db
      .deleteFrom('secrets')
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new DomainError('secret_not_found', `no secret named ${name}`);
    return row;
  }
}
