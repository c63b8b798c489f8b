import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from './migrations.js';
import { openNodeSqlite, openNodeSqliteReader } from './node-sqlite.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
  /** Where the data lives, without credentials, for logs. */
  location: string;
  ping(): Promise<void>;
  /** Runs a compiled read on the fastest path the dialect has: SQLite's read-only connection, or the pool. */
  read<Row>(query: CompiledQuery<Row>): Promise<Row[]>;
  close(): Promise<void>;
}

/**
 * Opens the database and brings its schema up to date. `postgres://…` or `postgresql://…` selects
 * PostgreSQL; anything else is a SQLite file path (the embedded default).
 */
export async function openDatabase(target: string, options: { migrateUpTo?: string } = {}): Promise<Db> {
  const db = /^postgres(ql)?:\/\//.test(target) ? openPostgres(target) : openSqlite(target);
  try {
    await migrateToLatest(db.kysely as Kysely<unknown>, db.dialect, options.migrateUpTo);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

function openSqlite(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const { database, raw } = openNodeSqlite(path);
  raw.exec(
    'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;',
  );
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  // An in-memory database is private to its connection, so it cannot have a second reader.
  const reader = path === ':memory:' ? undefined : openNodeSqliteReader(path);
  return {
    kysely,
    dialect: 'sqlite',
    location: path,
    async ping() {
      await sql`select 1`.execute(kysely);
    },
    async read<Row>(query: CompiledQuery<Row>) {
      if (!reader) return (await kysely.executeQuery(query)).rows;
      return reader.all(query.sql, query.parameters) as Row[];
    },
    async close() {
      reader?.close();
      await kysely.destroy();
    },
  };
}

function openPostgres(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client losing its connection must not crash the server; the next query reports it.
  pool.on('error', () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const parsed = new URL(url);
  parsed.password = '';
  return {
    kysely,
    dialect: 'postgres',
    location: parsed.toString(),
    async ping() {
      await sql`select 1`.execute(kysely);
    },
    async read<Row>(query: CompiledQuery<Row>) {
      return (await kysely.executeQuery(query)).rows;
    },
    async close() {
      await kysely.destroy();
    },
  };
}

/** A row still refers to the one being deleted (or a new row to one that is gone), in either dialect. */
export function isForeignKeyViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // PostgreSQL foreign_key_violation; SQLite SQLITE_CONSTRAINT_FOREIGNKEY (787).
  return code === '23503' || (code === 'ERR_SQLITE_ERROR' && errcode === 787);
}

/** True when the error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  // PostgreSQL unique_violation; SQLite SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
  return code === '23505' || (code === 'ERR_SQLITE_ERROR' && (errcode === 2067 || errcode === 1555));
}
