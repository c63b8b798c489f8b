import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Adapts Node's built-in `node:sqlite` to the interface Kysely's SqliteDialect expects (the better-sqlite3
 * shape). Built in means no native addon to compile on install; better-sqlite3 12 also aborts the process at
 * exit on Node 24 when a statement is garbage-collected after teardown (`Assertion failed: (env) != nullptr`).
 */
export function openNodeSqlite(path: string): { database: SqliteDatabase; raw: DatabaseSync } {
  const raw = new DatabaseSync(path);
  const database: SqliteDatabase = {
    close() {
      raw.close();
    },
    prepare(sql: string): SqliteStatement {
      const statement = raw.prepare(sql);
      const reader = statement.columns().length > 0;
      const bind = (parameters: ReadonlyArray<unknown>) => parameters as SQLInputValue[];
      return {
        reader,
        all(parameters) {
          return statement.all(...bind(parameters));
        },
        run(parameters) {
          const result = statement.run(...bind(parameters));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        iterate(parameters) {
          return statement.iterate(...bind(parameters));
        },
      };
    },
  };
  return { database, raw };
}
