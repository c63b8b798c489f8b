import { randomUUID } from 'node:crypto';
import { type AttachableClock, type ClockTimer, PgBoss, TestClock } from 'pg-boss';
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
import { type ClaimedJob, JobRunner, type JobStore, nonNegative, retryDelay } from './job-runner.js';

/** pg-boss's smallest heartbeat: a shorter lease is raised to it. */
const minLeaseMs = 10_000;
/** pg-boss's longest expiry: a handler still running after it loses its job, heartbeat or not. */
const expireInSeconds = 24 * 60 * 60;
/** How long a waiting job is kept past its `startAfter` when nothing takes it (pg-boss's retention). */
const retentionSeconds = 365 * 24 * 60 * 60;
/** Failed and cancelled jobs are kept this long (completed ones are deleted at once). */
const keepEndedSeconds = 7 * 24 * 60 * 60;
/**
 * pg-boss's retry limit on every job: a lost lease (an expired heartbeat) goes through pg-boss's retries, so
 * they are in effect unlimited; the retries a handler's failures may use are counted in the job's envelope.
 */
const redeliveries = 1_000_000;

/** What a pg-boss job carries: the data, and the retry policy and failures of our semantics. */
interface Envelope {
  data: unknown;
  retryLimit: number;
  retryDelayMs: number;
  retryBackoff: boolean;
  /** Handler failures so far (lost leases are not failures). */
  failures: number;
  lastError?: string;
  /** Failed for good: kept as a cancelled pg-boss job, since pg-boss cannot fail a job with retries left. */
  failed?: boolean;
}

interface BossJob extends ClaimedJob {
  retryCount: number;
  envelope: Envelope;
}

export interface PgBossQueueOptions extends QueueOptions {
  /** pg-boss's schema, in the same database; default `pgboss`. */
  schema?: string;
  /** Connections in pg-boss's own pool (beside the server's own pool of 10); default 4: the runner claims and renews in batches. */
  poolSize?: number;
}

/**
 * The PostgreSQL backend, for several control planes on one database: pg-boss (v12), in its own schema.
 * Jobs are taken with pg-boss's `fetch` (`FOR UPDATE SKIP LOCKED`) by the same in-process workers as the
 * table queue (job-runner.ts), so the semantics are job-queue.ts's, mapped like this:
 *
 * - The lease is pg-boss's heartbeat: `heartbeatSeconds` is `leaseMs` in seconds, **at least 10 s** (pg-boss's
 *   minimum; a shorter `leaseMs` is raised to it), renewed with `touch()` every third of it. An expired one is
 *   found by pg-boss's supervisor pass, run every few seconds here (a third of the lease, 1–5 s) instead of
 *   pg-boss's default minute, so a dead worker's job is handed out again a few seconds after its lease ends.
 *   pg-boss also ends any attempt after 24 h (its longest `expireInSeconds`), heartbeat or not.
 * - Lost leases go through pg-boss's retries: every job has a retry limit of a million and no delay, and the
 *   retries of our semantics (`retryLimit`, `retryDelayMs`, `retryBackoff`, exact to the millisecond) are
 *   counted in the job's data. A handler failure fails the pg-boss job and sets its next start and failure
 *   count in one transaction; the last one leaves it `cancelled` in pg-boss with `failed: true` in its data,
 *   which `get` reports as `failed` (pg-boss cannot fail a job that has retries left).
 * - Singletons use pg-boss's `short` policy (one job per key in `created`); a job sent without a key gets its
 *   own id as its key, so it never collides.
 * - Completed jobs are deleted (a fenced `deleteJob`); failed and cancelled ones are kept a week.
 * - Time is the database's (pg-boss compares with its `job_now()`); `startAfter` is sent as a time. With an
 *   injected clock, pg-boss's SQL reads that clock's time instead (pushed before every claim and send, and by
 *   `poke()`), through pg-boss's own test-clock override in the schema: use one injected clock per schema.
 * - `owner` is not used: pg-boss does not name a job's holder.
 *
 * pg-boss's cron (`schedule`) is off: the workflow triggers keep their own schedule.
 */
export class PgBossQueue implements JobQueue {
  readonly backend = 'pg-boss' as const;
  private readonly boss: PgBoss;
  private readonly runner: JobRunner<BossJob>;
  private readonly clock: Clock;
  private readonly injected: InjectedClock | undefined;
  private readonly heartbeatSeconds: number;
  private readonly queues = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(connectionString: string, options: PgBossQueueOptions = {}) {
    const leaseMs = Math.max(options.leaseMs ?? 30_000, minLeaseMs);
    this.heartbeatSeconds = Math.ceil(leaseMs / 1000);
    this.clock = options.clock ?? systemClock;
    this.injected = this.clock === systemClock ? undefined : new InjectedClock(this.clock);
    const onError = options.onError ?? ((error: unknown) => console.error('job queue:', error));
    const superviseSeconds = Math.min(5, Math.max(1, Math.floor(this.heartbeatSeconds / 3)));
    this.boss = new PgBoss({
      connectionString,
      schema: options.schema ?? 'pgboss',
      max: options.poolSize ?? 4,
      // Expired heartbeats are failed (here: handed out again) by the supervisor's monitor pass.
      supervise: true,
      superviseIntervalSeconds: superviseSeconds,
      monitorIntervalSeconds: superviseSeconds,
      schedule: false,
      ...(this.injected ? { clock: this.injected } : {}),
    });
    this.boss.on('error', onError);
    const store: JobStore<BossJob> = {
      claim: (queue, limit) => this.claim(queue, limit),
      complete: async (queue, job) => {
        await this.boss.deleteJob(queue, { id: job.id, retryCount: job.retryCount });
      },
      fail: (queue, job, error) => this.fail(queue, job, error),
      release: async (queue, job) => {
        // Back to `retry` with no delay: handed out again at once, attempt + 1.
        await this.boss.fail(queue, { id: job.id, retryCount: job.retryCount }, { message: 'given back: stopping' });
      },
      renew: (jobs) => this.renew(jobs),
    };
    this.runner = new JobRunner(store, {
      clock: this.clock,
      leaseMs: this.heartbeatSeconds * 1000,
      pollMs: options.pollMs ?? 500,
      onError,
    });
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  async send<T>(queue: string, data: T, options: SendOptions = {}): Promise<string | null> {
    await this.ensureQueue(queue);
    await this.injected?.push();
    const id = randomUUID();
    const envelope: Envelope = {
      data: data ?? null,
      retryLimit: nonNegative(options.retryLimit ?? 0, 'retryLimit'),
      retryDelayMs: nonNegative(options.retryDelayMs ?? 1000, 'retryDelayMs'),
      retryBackoff: options.retryBackoff ?? false,
      failures: 0,
    };
    const sent = await this.boss.send(queue, envelope as unknown as object, {
      id,
      singletonKey: options.singletonKey === undefined ? `id:${id}` : `key:${options.singletonKey}`,
      ...(options.startAfter === undefined ? {} : { startAfter: new Date(options.startAfter) }),
      retryLimit: redeliveries,
      retryDelay: 0,
      retryBackoff: false,
      heartbeatSeconds: this.heartbeatSeconds,
      expireInSeconds,
      retentionSeconds,
      deleteAfterSeconds: keepEndedSeconds,
    });
    if (sent === null) return null;
    if (options.startAfter === undefined || options.startAfter <= this.clock.now()) this.runner.wake(queue);
    return sent;
  }

  async work<T>(queue: string, options: WorkOptions, handler: JobHandler<T>): Promise<void> {
    if (this.stopped) throw new Error('the queue is stopped');
    await this.ensureQueue(queue);
    this.runner.work(queue, options, handler);
  }

  async cancel(queue: string, id: string): Promise<void> {
    await this.ensureQueue(queue);
    await this.boss.cancel(queue, id);
    this.runner.cancelled(queue, id);
  }

  async get(queue: string, id: string): Promise<JobState | null> {
    await this.ensureQueue(queue);
    const [job] = await this.boss.findJobs<Envelope>(queue, { id });
    if (!job) return null;
    const envelope = job.data;
    const state: JobState['state'] =
      job.state === 'created' || job.state === 'retry'
        ? 'created'
        : job.state === 'cancelled' && envelope.failed
          ? 'failed'
          : job.state;
    return {
      id: job.id,
      queue,
      state,
      // pg-boss counts a retry at the next hand-out; a job never started was handed out 0 times.
      attempt: job.startedOn ? job.retryCount + 1 : 0,
      data: envelope.data,
      lastError: envelope.lastError ?? null,
    };
  }

  poke(): void {
    void this.injected?.push().then(() => this.runner.poke());
    if (!this.injected) this.runner.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner.stop();
    await this.boss.stop({ graceful: true, close: true });
  }

  private async claim(queue: string, limit: number): Promise<BossJob[]> {
    await this.injected?.push();
    const jobs = await this.boss.fetch<Envelope>(queue, { batchSize: limit });
    return jobs.map((job) => ({
      id: job.id,
      attempt: job.retryCount + 1,
      data: job.data.data,
      retryCount: job.retryCount,
      envelope: job.data,
    }));
  }

  /**
   * Fails the pg-boss job (back to `retry`, or on to `cancelled` past the retry limit) and, in the same
   * transaction, sets its failure count, last error and next start: no worker sees it in between.
   */
  private async fail(queue: string, job: BossJob, error: string): Promise<void> {
    const { envelope } = job;
    const retry = envelope.failures < envelope.retryLimit;
    const next: Envelope = { ...envelope, failures: envelope.failures + 1, lastError: error };
    const db = this.boss.getDb();
    if (!db.beginTransaction) throw new Error('pg-boss database without transactions');
    const transaction = await db.beginTransaction();
    try {
      const attempt = { id: job.id, retryCount: job.retryCount };
      const failed = (await this.boss.fail(queue, attempt, { message: error }, { db: transaction.db })) as {
        affected?: number;
      };
      // No longer this attempt's (its lease was lost, or it was cancelled): not ours to count.
      if (failed.affected === 0) return await transaction.rollback();
      const startAfter = retry
        ? new Date(this.clock.now() + retryDelay(envelope.retryDelayMs, envelope.retryBackoff, envelope.failures))
        : undefined;
      const updated = await this.boss.update(queue, (retry ? next : { ...next, failed: true }) as unknown as object, {
        id: job.id,
        ...(startAfter ? { startAfter } : {}),
        db: transaction.db,
      });
      if (updated.updated !== 1) throw new Error(`job ${job.id}: its failure could not be recorded`);
      if (!retry) await this.boss.cancel(queue, job.id, { db: transaction.db });
      await transaction.commit();
    } catch (failure) {
      await transaction.rollback();
      throw failure;
    }
  }

  private async renew(jobs: ReadonlyArray<{ queue: string; job: BossJob }>): Promise<Set<BossJob>> {
    const byQueue = new Map<string, BossJob[]>();
    for (const { queue, job } of jobs) byQueue.set(queue, [...(byQueue.get(queue) ?? []), job]);
    const lost = new Set<BossJob>();
    for (const [queue, held] of byQueue) {
      const response = (await this.boss.touch(
        queue,
        held.map((job) => ({ id: job.id, retryCount: job.retryCount })),
      )) as { settled?: string[] };
      // pg-boss names the jobs it touched (fenced by attempt); without the list, assume all were.
      if (!response.settled) continue;
      const touched = new Set(response.settled);
      for (const job of held) if (!touched.has(job.id)) lost.add(job);
    }
    return lost;
  }

  /** Creates the pg-boss queue once per process (pg-boss needs one before a send or a fetch). */
  private ensureQueue(queue: string): Promise<void> {
    let ready = this.queues.get(queue);
    if (!ready) {
      ready = this.createQueue(queue);
      ready.catch(() => this.queues.delete(queue));
      this.queues.set(queue, ready);
    }
    return ready;
  }

  private async createQueue(queue: string): Promise<void> {
    let existing = await this.boss.getQueue(queue);
    if (!existing) {
      try {
        await this.boss.createQueue(queue, {
          policy: 'short',
          heartbeatSeconds: this.heartbeatSeconds,
          expireInSeconds,
          retentionSeconds,
          deleteAfterSeconds: keepEndedSeconds,
          retryLimit: redeliveries,
          retryDelay: 0,
        });
        return;
      } catch (error) {
        // Another process made it meanwhile.
        existing = await this.boss.getQueue(queue);
        if (!existing) throw error;
      }
    }
    if (existing.policy !== 'short')
      throw new Error(`pg-boss queue ${queue} has policy ${existing.policy}; this queue needs 'short' (singletons)`);
  }
}

/**
 * pg-boss on an injected clock: its timers run in real time (so polls and heartbeats go on), and its SQL
 * reads the injected time through pg-boss's own test-clock override, moved to the injected clock's time
 * before every timer fires and whenever the queue asks (`push`).
 */
class InjectedClock implements AttachableClock {
  private override: TestClock | undefined;
  private pushed: number | undefined;
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly clock: Clock) {}

  now(): number {
    return this.clock.now();
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return setTimeout(() => void this.push().then(fn), ms);
  }

  clearTimeout(handle: ClockTimer): void {
    clearTimeout(handle as NodeJS.Timeout);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return setInterval(() => void this.push().then(fn), ms);
  }

  clearInterval(handle: ClockTimer): void {
    clearInterval(handle as NodeJS.Timeout);
  }

  async attach(target: Parameters<AttachableClock['attach']>[0]): Promise<AsyncDisposable> {
    this.pushed = this.clock.now();
    this.override = new TestClock(this.pushed);
    return this.override.attach(target);
  }

  /** Moves the database's time to the injected clock's, if it moved (one move at a time). */
  push(): Promise<void> {
    this.pushing = this.pushing.then(async () => {
      const now = this.clock.now();
      if (!this.override || now === this.pushed) return;
      await this.override.setTime(now);
      this.pushed = now;
    });
    // A failed move is tried again by the next push; the caller's own statement reports the database's trouble.
    this.pushing = this.pushing.catch(() => {});
    return this.pushing;
  }
}
