import type { SecretCategory, SecretMetadata, SecretWithValue } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Db } from '../db/database.js';
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
    this.listQuery = prepareRead(
      database,
      database.kysely
        .selectFrom('secrets')
        .select(['id', 'name', 'category', 'created_at', 'updated_at'])
        .where('org_id', '=', 'org')
        .orderBy('name'),
      ['org'] as [orgId: string],
    );
  }

  private readonly listQuery;

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

  async list(orgId: string): Promise<SecretMetadata[]> {
    return (await this.listQuery(orgId)).map(metadata);
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
