import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { randomBase32 } from '../ids.js';
import type { Clock, JobHandler, WorkOptions } from './job-queue.js';

/** A job as a backend handed it to this process. Backends extend it with what they settle it by. */
export interface ClaimedJob {
  id: string;
  attempt: number;
  data: unknown;
}

/** What a backend does in its database; the runner does the rest (workers, polling, leases, stopping). */
export interface JobStore<C extends ClaimedJob> {
  /** Takes up to `limit` due jobs of `queue` for this process, under a lease. */
  claim(queue: string, limit: number): Promise<C[]>;
  complete(queue: string, job: C): Promise<void>;
  /** The handler threw: a retry (after its delay) or, past the retry limit, `failed` with the error kept. */
  fail(queue: string, job: C, error: string): Promise<void>;
  /** Gives the job back at once (the queue stops); it is handed out again. */
  release(queue: string, job: C): Promise<void>;
  /** Extends the leases of jobs this process holds; answers the ones it no longer holds. */
  renew(jobs: ReadonlyArray<{ queue: string; job: C }>): Promise<Set<C>>;
  /** Makes jobs of `queue` whose lease expired waiting again (absent where the backend does it itself). */
  reap?(queue: string): Promise<void>;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
}
export class QueueStoppedError extends Error {
  override readonly name = 'QueueStoppedError';
}

export interface RunnerOptions {
  clock: Clock;
  leaseMs: number;
  pollMs: number;
  onError(error: unknown): void;
}

interface Worker {
  queue: string;
  concurrency: number;
  handler: JobHandler<unknown>;
  active: number;
  pumping: boolean;
  /** Look again when the pass in progress ends (a send or a freed slot came meanwhile). */
  again: boolean;
  reapNow: boolean;
  nextReap: number;
  timer?: NodeJS.Timeout;
}

interface Held<C> {
  queue: string;
  job: C;
  controller: AbortController;
  /** Until when the lease surely holds, on the queue's clock (last successful renewal + leaseMs). */
  leaseUntil: number;
  /** Why its signal aborted: this process no longer holds it (lost, cancelled) or gives it back (stop). */
  ended?: 'lost' | 'cancelled' | 'stop';
}

/** This process's name in leases: host, pid and a random part (two queues in one process differ). */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomBase32(8)}`;
}

/** The wait before the retry that follows `failures` earlier failures (0 for the first retry). */
export function retryDelay(delayMs: number, backoff: boolean, failures: number): number {
  return backoff ? delayMs * 2 ** failures : delayMs;
}

/** A retry count or delay from `SendOptions`, checked. */
export function nonNegative(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be an integer ≥ 0`);
  return value;
}

/** What a handler threw, as kept in a job's last error. */
export function describeError(error: unknown): string {
  const text =
    error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
}

/**
 * The in-process half both backends share: one worker per queue that claims as many jobs as it has free
 * slots, runs their handlers, renews the leases of every job held (one statement per renewal, every third
 * of the lease), aborts a handler whose lease is lost or whose job is cancelled, and polls when idle.
 * A send in this process, a freed slot or `poke()` starts a claim at once instead of waiting for the poll.
 */
export class JobRunner<C extends ClaimedJob> {
  private readonly workers = new Map<string, Worker>();
  private readonly held = new Set<Held<C>>();
  /** Claims and handlers in flight, which `stop()` waits for. */
  private readonly tasks = new Set<Promise<void>>();
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopping = false;

  constructor(
    private readonly store: JobStore<C>,
    private readonly options: RunnerOptions,
  ) {}

  work<T>(queue: string, options: WorkOptions, handler: JobHandler<T>): void {
    if (this.stopping) throw new Error('the queue is stopped');
    if (this.workers.has(queue)) throw new Error(`queue ${queue} already has a worker in this process`);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be an integer ≥ 1');
    const worker: Worker = {
      queue,
      concurrency,
      handler: handler as JobHandler<unknown>,
      active: 0,
      pumping: false,
      again: false,
      reapNow: true,
      nextReap: 0,
    };
    this.workers.set(queue, worker);
    this.pump(worker);
  }

  /** A job of `queue` was sent in this process and is due: claim it now. */
  wake(queue: string): void {
    const worker = this.workers.get(queue);
    if (worker) this.pump(worker);
  }

  poke(): void {
    for (const worker of this.workers.values()) {
      worker.reapNow = true;
      this.pump(worker);
    }
  }

  /** The job was cancelled: if this process runs it, its handler's signal aborts now. */
  cancelled(queue: string, id: string): void {
    for (const held of this.held) {
      if (held.queue === queue && held.job.id === id && !held.ended) {
        held.ended = 'cancelled';
        held.controller.abort(new JobCancelledError(`job ${id} was cancelled`));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const worker of this.workers.values()) clearTimeout(worker.timer);
    for (const held of this.held) {
      if (held.ended) continue;
      held.ended = 'stop';
      held.controller.abort(new QueueStoppedError('the queue is stopping'));
    }
    // Leases stay renewed until every handler has returned: a job must not be handed out while it runs here.
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private pump(worker: Worker): void {
    if (this.stopping) return;
    if (worker.pumping) {
      worker.again = true;
      return;
    }
    worker.pumping = true;
    clearTimeout(worker.timer);
    const task = this.drain(worker).finally(() => {
      worker.pumping = false;
      this.tasks.delete(task);
      if (!this.stopping) worker.timer = setTimeout(() => this.pump(worker), this.options.pollMs);
    });
    this.tasks.add(task);
  }

  private async drain(worker: Worker): Promise<void> {
    do {
      // SQLite answers synchronously: a chain of jobs whose handlers send the next one would otherwise run
      // as one endless run of microtasks, and no timer, request or other I/O would get a turn.
      await nextTurn();
      worker.again = false;
      if (this.stopping) return;
      try {
        if (this.store.reap && (worker.reapNow || performance.now() >= worker.nextReap)) {
          worker.reapNow = false;
          // A tenth of a lease late at most: soon enough, without a statement on every claim.
          worker.nextReap = performance.now() + Math.max(this.options.pollMs, this.options.leaseMs / 10);
          await this.store.reap(worker.queue);
        }
        const free = worker.concurrency - worker.active;
        if (free <= 0) return;
        const claimedAt = this.options.clock.now();
        const claimed = await this.store.claim(worker.queue, free);
        for (const job of claimed) this.run(worker, job, claimedAt);
        // A full batch: there may be more.
        if (claimed.length === free) worker.again = true;
      } catch (error) {
        this.options.onError(error);
        return;
      }
    } while (worker.again);
  }

  private run(worker: Worker, job: C, claimedAt: number): void {
    const held: Held<C> = {
      queue: worker.queue,
      job,
      controller: new AbortController(),
      leaseUntil: claimedAt + this.options.leaseMs,
    };
    this.held.add(held);
    worker.active++;
    this.renewTimer ??= setInterval(() => void this.renew(), Math.max(1, Math.floor(this.options.leaseMs / 3)));
    const task = this.execute(worker, held).finally(() => {
      this.tasks.delete(task);
      this.held.delete(held);
      worker.active--;
      if (this.held.size === 0 && !this.stopping) {
        clearInterval(this.renewTimer);
        this.renewTimer = undefined;
      }
      this.pump(worker);
    });
    this.tasks.add(task);
  }

  private async execute(worker: Worker, held: Held<C>): Promise<void> {
    const { job } = held;
    let failure: { error: unknown } | undefined;
    // Claimed while stopping: given back without running.
    if (this.stopping) held.ended ??= 'stop';
    else {
      try {
        await worker.handler({
          id: job.id,
          queue: worker.queue,
          data: job.data,
          attempt: job.attempt,
          signal: held.controller.signal,
        });
      } catch (error) {
        failure = { error };
      }
    }
    try {
      if (held.ended === 'stop') await this.store.release(worker.queue, job);
      // Lost or cancelled: no longer this process's to settle.
      else if (held.ended) return;
      else if (failure) await this.store.fail(worker.queue, job, describeError(failure.error));
      else await this.store.complete(worker.queue, job);
    } catch (error) {
      // Left to its lease: it expires and the job is handed out again.
      this.options.onError(error);
    }
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    // Jobs being given back at stop keep their lease until their handler has returned.
    const live = [...this.held].filter((held) => held.ended !== 'lost' && held.ended !== 'cancelled');
    try {
      if (live.length === 0) return;
      const startedAt = this.options.clock.now();
      const lost = await this.store.renew(live.map(({ queue, job }) => ({ queue, job })));
      for (const held of live) {
        if (lost.has(held.job)) this.lose(held);
        else held.leaseUntil = startedAt + this.options.leaseMs;
      }
    } catch (error) {
      this.options.onError(error);
      // Could not renew: a lease that has run out by now may already be another worker's.
      const now = this.options.clock.now();
      for (const held of live) if (held.leaseUntil <= now) this.lose(held);
    } finally {
      this.renewing = false;
    }
  }

  private lose(held: Held<C>): void {
    if (held.ended === 'lost' || held.ended === 'cancelled') return;
    held.ended = 'lost';
    held.controller.abort(new LeaseLostError(`the lease on job ${held.job.id} was lost`));
  }
}
