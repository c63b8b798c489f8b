import { performance } from 'node:perf_hooks';
import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import type { DialectName } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { randomBase32 } from '../ids.js';
import {
  type Clock,
  type JobHandler,
  type JobQueue,
  type JobState,
  type QueueOptions,
  type SendOptions,
  systemClock,
  type WorkOptions,
} from './job-queue.js';
import { type ClaimedJob, defaultOwner, JobRunner, type JobStore, nonNegative, retryDelay } from './job-runner.js';

/** Failed and cancelled jobs are kept this long (for `get` and diagnosis), then deleted. */
const keepEndedMs = 7 * 24 * 60 * 60 * 1000;
const sweepEveryMs = 10 * 60 * 1000;

interface TableJob extends ClaimedJob {
  failures: number;
  retryLimit: number;
  retryDelayMs: number;
  retryBackoff: boolean;
}

interface ClaimRow {
  id: string;
  data: string;
  attempt: number | string;
  failures: number | string;
  retry_limit: number | string;
  retry_delay_ms: number | string;
  retry_backoff: number | string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The embedded backend: a lease queue over the `jobs` table, in this process. Correct with several processes
 * on one database too (claims are atomic: one conditional UPDATE on SQLite, which has a single writer;
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL), so it also serves as PostgreSQL's fallback (RUNTOOLS_QUEUE=table).
 *
 * A job costs three statements (insert, claim, delete), each compiled once; leases are renewed by one
 * statement for every job this process holds, every third of `leaseMs`. Expired leases are looked for every
 * `pollMs` or tenth of a lease, whichever is longer, and on `poke()`. Times are the injected clock's, as ISO
 * strings: processes on several hosts compare each other's lease times, so their clocks must agree to well
 * within a lease (NTP does).
 */
export class TableQueue implements JobQueue {
  readonly backend = 'table' as const;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly clock: Clock;
  private readonly runner: JobRunner<TableJob>;
  private readonly statements: Statements;
  private readonly swept = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
    options: QueueOptions = {},
  ) {
    this.owner = options.owner ?? defaultOwner();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
    this.statements = compileStatements(db, dialect);
    const store: JobStore<TableJob> = {
      claim: (queue, limit) => this.claim(queue, limit),
      complete: (_queue, job) => this.complete(job),
      fail: (_queue, job, error) => this.fail(job, error),
      release: (_queue, job) => this.release(job),
      renew: (jobs) => this.renew(jobs.map(({ job }) => job)),
      reap: (queue) => this.reap(queue),
    };
    this.runner = new JobRunner(store, {
      clock: this.clock,
      leaseMs: this.leaseMs,
      pollMs: options.pollMs ?? 500,
      onError: options.onError ?? ((error) => console.error('job queue:', error)),
    });
  }

  async start(): Promise<void> {}

  async send<T>(queue: string, data: T, options: SendOptions = {}): Promise<string | null> {
    const now = this.clock.now();
    const startAfter = options.startAfter ?? now;
    const id = `job_${randomBase32(20)}`;
    const rows = await this.execute<{ id: string }>(this.statements.insert, [
      id,
      queue,
      JSON.stringify(data ?? null),
      options.singletonKey ?? null,
      nonNegative(options.retryLimit ?? 0, 'retryLimit'),
      nonNegative(options.retryDelayMs ?? 1000, 'retryDelayMs'),
      options.retryBackoff ? 1 : 0,
      iso(startAfter),
      iso(now),
      iso(now),
    ]);
    if (rows.length === 0) return null;
    if (startAfter <= now) this.runner.wake(queue);
    return id;
  }

  async work<T>(queue: string, options: WorkOptions, handler: JobHandler<T>): Promise<void> {
    if (this.stopped) throw new Error('the queue is stopped');
    this.runner.work(queue, options, handler);
  }

  async cancel(queue: string, id: string): Promise<void> {
    await this.execute(this.statements.cancel, [iso(this.clock.now()), id, queue]);
    this.runner.cancelled(queue, id);
  }

  async get(queue: string, id: string): Promise<JobState | null> {
    const row = await this.db
      .selectFrom('jobs')
      .select(['id', 'queue', 'state', 'attempt', 'data', 'last_error'])
      .where('id', '=', id)
      .where('queue', '=', queue)
      .executeTakeFirst();
    if (!row) return null;
    return {
      id: row.id,
      queue: row.queue,
      state: row.state as JobState['state'],
      attempt: Number(row.attempt),
      data: JSON.parse(row.data),
      lastError: row.last_error,
    };
  }

  poke(): void {
    this.runner.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner.stop();
  }

  private async claim(queue: string, limit: number): Promise<TableJob[]> {
    await this.sweep(queue);
    const now = this.clock.now();
    const lease = [this.owner, iso(now + this.leaseMs), iso(now)];
    const pick = [queue, iso(now), limit];
    const rows = await this.execute<ClaimRow>(
      this.statements.claim,
      this.dialect === 'postgres' ? [...pick, ...lease] : [...lease, ...pick],
    );
    return rows.map((row) => ({
      id: row.id,
      attempt: Number(row.attempt),
      data: JSON.parse(row.data),
      failures: Number(row.failures),
      retryLimit: Number(row.retry_limit),
      retryDelayMs: Number(row.retry_delay_ms),
      retryBackoff: Number(row.retry_backoff) === 1,
    }));
  }

  private async complete(job: TableJob): Promise<void> {
    await this.execute(this.statements.complete, [job.id, this.owner, job.attempt]);
  }

  private async fail(job: TableJob, error: string): Promise<void> {
    const now = this.clock.now();
    const retry = job.failures < job.retryLimit;
    const startAfter = retry ? now + retryDelay(job.retryDelayMs, job.retryBackoff, job.failures) : now;
    await this.execute(this.statements.fail, [
      retry ? 'created' : 'failed',
      iso(startAfter),
      error,
      iso(now),
      job.id,
      this.owner,
      job.attempt,
    ]);
  }

  private async release(job: TableJob): Promise<void> {
    await this.execute(this.statements.release, [iso(this.clock.now()), job.id, this.owner, job.attempt]);
  }

  private async renew(jobs: TableJob[]): Promise<Set<TableJob>> {
    const now = this.clock.now();
    const held = await sql<{ id: string; attempt: number | string }>`
      update jobs set lease_expires_at = ${iso(now + this.leaseMs)}, updated_at = ${iso(now)}
      where owner = ${this.owner} and state = 'active' and id in (${sql.join(jobs.map((job) => job.id))})
      returning id, attempt`.execute(this.db);
    const kept = new Set(held.rows.map((row) => `${row.id}:${Number(row.attempt)}`));
    return new Set(jobs.filter((job) => !kept.has(`${job.id}:${job.attempt}`)));
  }

  private async reap(queue: string): Promise<void> {
    const now = iso(this.clock.now());
    await this.execute(this.statements.reap, [now, queue, now]);
  }

  /** Deletes the queue's failed and cancelled jobs past their keeping time, now and then. */
  private async sweep(queue: string): Promise<void> {
    const last = this.swept.get(queue);
    if (last !== undefined && performance.now() - last < sweepEveryMs) return;
    this.swept.set(queue, performance.now());
    await this.execute(this.statements.sweep, [queue, iso(this.clock.now() - keepEndedMs)]);
  }

  private async execute<Row>(query: CompiledQuery, parameters: unknown[]): Promise<Row[]> {
    if (query.parameters.length !== parameters.length) throw new Error('wrong number of parameters');
    const result = await this.db.executeQuery<Row>({ ...query, parameters } as CompiledQuery<Row>);
    return result.rows;
  }
}

type Statements = ReturnType<typeof compileStatements>;

/**
 * The hot statements, compiled once (building and compiling a Kysely query costs more than running one of
 * these on SQLite). Placeholders are numbered in the order the parameters are passed.
 */
function compileStatements(db: Kysely<Database>, dialect: DialectName) {
  const p = () => sql`${null}`;
  const compile = (query: RawBuilder<unknown>) => query.compile(db);
  return {
    insert: compile(sql`
      insert into jobs (id, queue, data, singleton_key, state, attempt, failures, retry_limit, retry_delay_ms,
        retry_backoff, start_after, created_at, updated_at)
      values (${p()}, ${p()}, ${p()}, ${p()}, 'created', 0, 0, ${p()}, ${p()}, ${p()}, ${p()}, ${p()}, ${p()})
      on conflict do nothing
      returning id`),
    // SQLite has one writer at a time, so the select inside the update cannot race another claim. PostgreSQL
    // locks the rows it picks and skips those another claim holds; the picking is a materialized CTE, since a
    // subquery with LIMIT under `IN` may be run again for each row and hand out more than the limit.
    claim: compile(
      dialect === 'postgres'
        ? sql`
      with picked as materialized (
        select id from jobs where queue = ${p()} and state = 'created' and start_after <= ${p()}
        order by start_after limit ${p()} for update skip locked)
      update jobs set state = 'active', owner = ${p()}, lease_expires_at = ${p()}, attempt = attempt + 1,
        updated_at = ${p()}
      from picked where jobs.id = picked.id
      returning jobs.id, data, attempt, failures, retry_limit, retry_delay_ms, retry_backoff`
        : sql`
      update jobs set state = 'active', owner = ${p()}, lease_expires_at = ${p()}, attempt = attempt + 1,
        updated_at = ${p()}
      where id in (
        select id from jobs where queue = ${p()} and state = 'created' and start_after <= ${p()}
        order by start_after limit ${p()})
      returning id, data, attempt, failures, retry_limit, retry_delay_ms, retry_backoff`,
    ),
    complete: compile(sql`
      delete from jobs where id = ${p()} and owner = ${p()} and attempt = ${p()} and state = 'active'`),
    fail: compile(sql`
      update jobs set state = ${p()}, failures = failures + 1, start_after = ${p()}, last_error = ${p()},
        owner = null, lease_expires_at = null, updated_at = ${p()}
      where id = ${p()} and owner = ${p()} and attempt = ${p()} and state = 'active'`),
    release: compile(sql`
      update jobs set state = 'created', owner = null, lease_expires_at = null, updated_at = ${p()}
      where id = ${p()} and owner = ${p()} and attempt = ${p()} and state = 'active'`),
    reap: compile(sql`
      update jobs set state = 'created', owner = null, lease_expires_at = null, updated_at = ${p()}
      where queue = ${p()} and state = 'active' and lease_expires_at < ${p()}`),
    cancel: compile(sql`
      update jobs set state = 'cancelled', owner = null, lease_expires_at = null, updated_at = ${p()}
      where id = ${p()} and queue = ${p()} and state in ('created', 'active')`),
    sweep: compile(sql`
      delete from jobs where queue = ${p()} and state in ('failed', 'cancelled') and updated_at < ${p()}`),
  };
}
