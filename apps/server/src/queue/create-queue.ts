import type { Kysely } from 'kysely';
import type { DialectName } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { JobQueue, QueueOptions } from './job-queue.js';
import { PgBossQueue } from './pg-boss-queue.js';
import { TableQueue } from './table-queue.js';

export interface CreateQueueOptions extends QueueOptions {
  /** The table queue on PostgreSQL too; default: `RUNTOOLS_QUEUE=table` in the environment. */
  forceTable?: boolean;
}

/**
 * The job queue for this database: the table queue (`jobs`, in this process) on SQLite; pg-boss on
 * PostgreSQL, in its own `pgboss` schema of the same database, so that several control planes share the work.
 * `forceTable` (the server sets it from `RUNTOOLS_QUEUE=table`; without it, that variable decides) keeps the
 * table queue on PostgreSQL too: a fallback that needs nothing beyond our own tables, and is as safe with
 * several control planes (its claims use `FOR UPDATE SKIP LOCKED`).
 * Call `start()` on the answer before `work()`; pg-boss installs or migrates its schema then.
 */
export async function createQueue(
  db: Kysely<Database>,
  dialect: DialectName,
  connectionString: string | undefined,
  options: CreateQueueOptions = {},
): Promise<JobQueue> {
  const { forceTable = process.env.RUNTOOLS_QUEUE === 'table', ...queueOptions } = options;
  if (dialect === 'sqlite' || forceTable) return new TableQueue(db, dialect, queueOptions);
  if (!connectionString) throw new Error('pg-boss needs the PostgreSQL connection string');
  return new PgBossQueue(connectionString, queueOptions);
}
