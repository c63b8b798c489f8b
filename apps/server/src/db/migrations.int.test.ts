import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { openDatabase } from './database.js';

/** A database's address (a fresh PostgreSQL database or a SQLite file) and how to remove it. */
async function freshTarget(): Promise<{ target: string; remove(): Promise<void> }> {
  if (testDatabaseKind() === 'postgres') {
    const database = await createPostgresDatabase();
    return { target: database.url, remove: () => database.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'runtools-migrations-'));
  return { target: join(dir, 'runtools.db'), remove: async () => rmSync(dir, { recursive: true, force: true }) };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('migrations', () => {
  it('0014 names the recorded actors: key ids become (key, id), records no key made become (system, runtools)', async () => {
    const { target, remove } = await freshTarget();
    cleanups.push(remove);
    const before = await openDatabase(target, { migrateUpTo: '0012_invitations' });
    try {
      await sql`insert into audit_log (org_id, event, actor_key_id, target_id, details, created_at)
        values ('org_a', 'secret.set', 'key_1', 'sec_1', '{}', '2026-01-01T00:00:00.000Z'),
               ('org_a', 'org.created', null, 'org_a', '{}', '2026-01-01T00:00:01.000Z')`.execute(before.kysely);
    } finally {
      await before.close();
    }
    const after = await openDatabase(target);
    cleanups.push(() => after.close());
    const rows = await after.kysely
      .selectFrom('audit_log')
      .select(['event', 'actor_kind', 'actor_id', 'target_id'])
      .orderBy('seq')
      .execute();
    expect(rows).toEqual([
      { event: 'secret.set', actor_kind: 'key', actor_id: 'key_1', target_id: 'sec_1' },
      { event: 'org.created', actor_kind: 'system', actor_id: 'runtools', target_id: 'org_a' },
    ]);
    const columns = await after.kysely.introspection.getTables();
    const audit = columns.find((table) => table.name === 'audit_log');
    expect(audit?.columns.map((column) => column.name)).not.toContain('actor_key_id');
  });
});
