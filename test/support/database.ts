import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type TestDatabaseKind = 'sqlite' | 'postgres';

export function testDatabaseKind(): TestDatabaseKind {
  return process.env.RUNTOOLS_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * A fresh PostgreSQL database on the server named by RUNTOOLS_TEST_DATABASE_URL, dropped by `drop()`.
 * Each test server gets its own, so files running in parallel never share rows.
 */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.RUNTOOLS_TEST_DATABASE_URL;
  if (!base) throw new Error('RUNTOOLS_TEST_DATABASE_URL is not set');
  // Named after the run's own database, so a CI run can drop exactly what its tests left behind.
  const parent =
    new URL(base).pathname
      .slice(1)
      .replace(/[^a-z0-9_]/g, '')
      .slice(0, 40) || 'runtools';
  const name = `${parent}_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
