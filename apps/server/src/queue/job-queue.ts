/**
 * Background work (workflow nodes, run advances, cron fires, delays) goes through one queue interface with two
 * backends: an in-process lease queue over the `jobs` table (embedded, SQLite) and pg-boss on PostgreSQL, so
 * several control planes share the work. One conformance suite (`job-queue.int.test.ts`) runs against both.
 *
 * Semantics both keep:
 * - **At least once, one holder at a time.** A job is handed to one worker, under a lease (owner + expiry)
 *   that is renewed while its handler runs. A worker that dies (kill -9) stops renewing; once the lease
 *   expires the job is handed out again (same id, `attempt` + 1). Nothing else (a restart, another server)
 *   takes a job whose lease is alive. Exactly-once effects are the handler's business: it keys them on the
 *   job's data (the workflow engine claims node runs in its own tables). A lost lease is not a failure: it
 *   does not count against `retryLimit` and is handed out again at once, without the retry delay.
 * - **Retries.** A handler that throws is retried after `retryDelayMs` (doubled per attempt with
 *   `retryBackoff`), up to `retryLimit` retries; then the job is `failed` with the error kept.
 * - **Delays.** `startAfter` holds a job until then, on the queue's clock (tests inject one, move it and call
 *   `poke()`).
 * - **Singletons.** A job sent with a `singletonKey` while another with the same key in the same queue is
 *   still waiting (not yet handed out) is not added: `send` answers null. One that is active, or waiting for
 *   a retry after it was handed out, does not block a new one (work that arrived after it started must still
 *   be done).
 * - **Cancelling.** A cancelled job is never handed out again; if it is running, its signal aborts (at once
 *   in this process, at the holder's next lease renewal in another).
 * - **Stopping.** `stop()` takes no more jobs, aborts the running handlers' signals, waits for them to
 *   return, and leaves their jobs to be handed out again (their leases are released at once), whatever
 *   the handlers answered: one that returns after its signal aborted may have given up half-way.
 * - **Completed jobs** are deleted at once (`get` answers null); failed and cancelled ones are kept a week.
 *
 * Known differences between the backends, none visible through this interface's semantics: pg-boss leases
 * last at least 10 s (its heartbeat minimum), an expired one is noticed by its supervisor pass (every few
 * seconds), and a handler runs at most 24 h (pg-boss's longest expiry); see pg-boss-queue.ts.
 */

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export interface SendOptions {
  /** Not handed out before this time (ms since the epoch, on the queue's clock). */
  startAfter?: number;
  singletonKey?: string;
  /** Retries after the first attempt fails; default 0. */
  retryLimit?: number;
  /** Before the first retry; default 1000. */
  retryDelayMs?: number;
  /** Double the delay on each retry; default false. */
  retryBackoff?: boolean;
}

export interface Job<T> {
  id: string;
  queue: string;
  data: T;
  /** 1 for the first time the job is handed out, counting every later hand-out (retry or lost lease). */
  attempt: number;
  /** Aborted when the queue stops or the lease is lost: the handler should end soon. */
  signal: AbortSignal;
}

export type JobHandler<T> = (job: Job<T>) => Promise<void>;

export interface WorkOptions {
  /** Handlers of this queue running at once in this process; default 1. */
  concurrency?: number;
}

export interface JobState {
  id: string;
  queue: string;
  /** `created` is waiting: never handed out yet, or waiting for a retry or after a lost lease. */
  state: 'created' | 'active' | 'completed' | 'failed' | 'cancelled';
  /** How many times it was handed out so far (0 while it never was). */
  attempt: number;
  data: unknown;
  lastError: string | null;
}

export interface JobQueue {
  readonly backend: 'table' | 'pg-boss';
  start(): Promise<void>;
  /** Adds a job; null when a waiting job with the same singleton key already exists. */
  send<T>(queue: string, data: T, options?: SendOptions): Promise<string | null>;
  /** Starts handing jobs of `queue` to `handler` (at most one registration per queue). */
  work<T>(queue: string, options: WorkOptions, handler: JobHandler<T>): Promise<void>;
  /** Cancels a job that has not ended (a waiting one is never handed out; an active one's signal aborts). */
  cancel(queue: string, id: string): Promise<void>;
  /** A job's state, for tests and diagnostics; null for an unknown job or a completed one removed since. */
  get(queue: string, id: string): Promise<JobState | null>;
  /**
   * Looks for due work now instead of at the next poll: after the injected clock moved, or when another
   * process sent work. A `send` in this process wakes its own workers without it.
   */
  poke(): void;
  stop(): Promise<void>;
}

export interface QueueOptions {
  /** This process's name in leases (host, pid and a random part by default). */
  owner?: string;
  /** How long a lease lasts without renewal; renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /** How often an idle worker looks for due jobs (it is also woken by `send` in this process). Default 500 ms. */
  pollMs?: number;
  clock?: Clock;
  /** Errors of background work (a poll, a lease renewal, settling a job); default: printed on stderr. */
  onError?(error: unknown): void;
}
