import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const maxCachedStatements = 256;

/**
 * Prepared statements by SQL text. Kysely prepares on every query, and compiling the same SQL again was a
 * quarter of a request's CPU time; a statement is reusable once a synchronous all()/run() has returned.
 */
class StatementCache {
  private readonly statements = new Map<string, { statement: StatementSync; reader: boolean }>();
  constructor(private readonly raw: DatabaseSync) {}

  get(sql: string): { statement: StatementSync; reader: boolean } {
    let cached = this.statements.get(sql);
    if (cached) {
      this.statements.delete(sql);
    } else {
      const statement = this.raw.prepare(sql);
      cached = { statement, reader: statement.columns().length > 0 };
      if (this.statements.size >= maxCachedStatements)
        this.statements.delete(this.statements.keys().next().value as string);
    }
    this.statements.set(sql, cached);
    return cached;
  }

  clear(): void {
    this.statements.clear();
  }
}

const bind = (parameters: ReadonlyArray<unknown>) => parameters as SQLInputValue[];

/**
 * Adapts Node's built-in `node:sqlite` to the interface Kysely's SqliteDialect expects (the better-sqlite3
 * shape). Built in means no native addon to compile on install; better-sqlite3 12 also aborts the process at
 * exit on Node 24 when a statement is garbage-collected after teardown (`Assertion failed: (env) != nullptr`).
 */
export function openNodeSqlite(path: string): { database: SqliteDatabase; raw: DatabaseSync } {
  const raw = new DatabaseSync(path);
  const cache = new StatementCache(raw);
  const database: SqliteDatabase = {
    close() {
      cache.clear();
      raw.close();
    },
    prepare(sql: string): SqliteStatement {
      const { statement, reader } = cache.get(sql);
      return {
        reader,
        all: (parameters) => statement.all(...bind(parameters)),
        run(parameters) {
          const result = statement.run(...bind(parameters));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        // An iterator holds its statement open across awaits: give it a statement of its own.
        iterate: (parameters) => raw.prepare(sql).iterate(...bind(parameters)),
      };
    },
  };
  return { database, raw };
}

/**
 * A second, read-only connection for the hottest reads (the key lookup on every request). It skips Kysely's
 * single-connection mutex and, being its own connection under WAL, sees only committed data, never the
 * half-done transaction another request holds open on the main connection.
 */
export function openNodeSqliteReader(path: string): {
  all(sql: string, parameters: readonly unknown[]): unknown[];
  close(): void;
} {
  const raw = new DatabaseSync(path, { readOnly: true });
  raw.exec('PRAGMA busy_timeout = 5000;');
  const cache = new StatementCache(raw);
  return {
    all: (sql, parameters) => cache.get(sql).statement.all(...bind(parameters)),
    close() {
      cache.clear();
      raw.close();
    },
  };
}
