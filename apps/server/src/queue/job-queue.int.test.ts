import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../../../../test/support/database.js';
import { type Db, openDatabase } from '../db/database.js';
import { randomBase32 } from '../ids.js';
import type { Clock, Job, JobQueue, QueueOptions } from './job-queue.js';
import { JobCancelledError, QueueStoppedError } from './job-runner.js';
import { PgBossQueue } from './pg-boss-queue.js';
import { TableQueue } from './table-queue.js';

type Backend = 'table' | 'pg-boss';

// The table queue on the project's database; on PostgreSQL, pg-boss as well (the default there).
const backends: Backend[] = testDatabaseKind() === 'postgres' ? ['pg-boss', 'table'] : ['table'];

/** Short leases keep the suite fast; pg-boss's cannot go below 10 s (only the lease test waits on one). */
const tableLeaseMs = 600;
const pollMs = 50;

/** A clock the test moves by hand. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = Date.now();
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

/** Resolves when `release()` is called; for handlers that must stay in flight until the test says so. */
function gate(): { opened: Promise<void>; release(): void } {
  let release = () => {};
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

const waitUntil = (check: () => boolean | Promise<boolean>, timeout = 30_000) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error('not yet');
    },
    { timeout, interval: 10 },
  );

/**
 * A second process that works `queue` with a handler that never returns: it prints `holding <id> <attempt>`
 * and keeps renewing its lease until it is killed. It loads the queue from source (Node's TypeScript support;
 * the hook maps the `.js` specifiers of our sources to their `.ts` files).
 */
const holderScript = `
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
      if (existsSync(fileURLToPath(url))) return nextResolve(url.href, context);
    }
    return nextResolve(specifier, context);
  },
});
const [source, backend, target, queueName, leaseMs] = process.argv.slice(2);
let queue;
if (backend === 'pg-boss') {
  const { PgBossQueue } = await import(source + '/pg-boss-queue.ts');
  queue = new PgBossQueue(target, { leaseMs: Number(leaseMs), pollMs: 50 });
} else {
  const { openDatabase } = await import(source + '/../db/database.ts');
  const { TableQueue } = await import(source + '/table-queue.ts');
  const db = await openDatabase(target);
  queue = new TableQueue(db.kysely, db.dialect, { leaseMs: Number(leaseMs), pollMs: 50 });
}
await queue.start();
setInterval(() => {}, 60_000);
await queue.work(queueName, { concurrency: 1 }, (job) => {
  process.stdout.write('holding ' + job.id + ' ' + job.attempt + '\\n');
  return new Promise(() => {});
});
`;

describe.each(backends)('the job queue (%s backend)', (backend) => {
  const dir = mkdtempSync(join(tmpdir(), 'runtools-queue-'));
  /** The SQLite file or the PostgreSQL URL the queues share. */
  let target: string;
  let databases: Db[] = [];
  let dropDatabase: (() => Promise<void>) | undefined;
  let queues: JobQueue[] = [];
  let children: ChildProcessWithoutNullStreams[] = [];
  let errors: unknown[] = [];

  beforeAll(async () => {
    if (testDatabaseKind() === 'postgres') {
      const postgres = await createPostgresDatabase();
      target = postgres.url;
      dropDatabase = postgres.drop;
    } else {
      target = join(dir, 'runtools.db');
    }
    databases.push(await openDatabase(target));
  });
  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    children = [];
    await Promise.all(queues.map((queue) => queue.stop()));
    queues = [];
    // Background errors (a failed poll, renewal or settlement) would otherwise pass unnoticed.
    expect(errors).toEqual([]);
    errors = [];
  });
  afterAll(async () => {
    for (const db of databases) await db.close();
    databases = [];
    await dropDatabase?.();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A queue instance of its own (its own owner and, for the table queue, its own connection). */
  async function openQueue(options: QueueOptions = {}, connection: 'shared' | 'own' = 'shared'): Promise<JobQueue> {
    const settings = { pollMs, onError: (error: unknown) => errors.push(error), ...options };
    let queue: JobQueue;
    if (backend === 'pg-boss') {
      queue = new PgBossQueue(target, settings);
    } else {
      let db = databases[0] as Db;
      if (connection === 'own') {
        db = await openDatabase(target);
        databases.push(db);
      }
      queue = new TableQueue(db.kysely, db.dialect, { leaseMs: tableLeaseMs, ...settings });
    }
    await queue.start();
    queues.push(queue);
    return queue;
  }

  const queueName = () => `test.${randomBase32(8)}`;

  it('hands a job to a worker with its data and attempt 1, and forgets it once the handler returns', async () => {
    const queue = await openQueue();
    const name = queueName();
    const id = await queue.send(name, { greeting: 'hello' });
    expect(id).toEqual(expect.any(String));
    expect(await queue.get(name, id as string)).toMatchObject({ state: 'created', attempt: 0 });
    const seen: Array<Omit<Job<unknown>, 'signal'>> = [];
    await queue.work<{ greeting: string }>(name, {}, async ({ signal: _signal, ...job }) => {
      seen.push(job);
    });
    await waitUntil(async () => (await queue.get(name, id as string)) === null);
    expect(seen).toEqual([{ id, queue: name, data: { greeting: 'hello' }, attempt: 1 }]);
  });

  it('runs at most `concurrency` handlers of a queue at once', async () => {
    const queue = await openQueue();
    const name = queueName();
    for (let index = 0; index < 12; index++) await queue.send(name, { index });
    let running = 0;
    let most = 0;
    let done = 0;
    const full = gate();
    await queue.work(name, { concurrency: 3 }, async () => {
      running++;
      most = Math.max(most, running);
      // Nobody goes on until three run at once: the limit is reached, and never passed.
      if (running === 3) full.release();
      await full.opened;
      await sleep(1);
      running--;
      done++;
    });
    await waitUntil(() => done === 12);
    expect(most).toBe(3);
  });

  it('lets timers and I/O run while a chain of jobs keeps sending the next one', async () => {
    const queue = await openQueue();
    const name = queueName();
    let timerFired = false;
    let hops = 0;
    let ended = () => {};
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    await queue.work(name, {}, async () => {
      hops++;
      // Bounded, so that a queue starving the event loop fails here instead of hanging the suite.
      if (timerFired || hops === 5000) ended();
      else await queue.send(name, {});
    });
    // On SQLite every statement answers synchronously: without a turn of the event loop between claims the
    // chain would run in microtasks only and this timer would not fire before the chain ends.
    setTimeout(() => {
      timerFired = true;
    }, 20);
    await queue.send(name, {});
    await done;
    expect(timerFired).toBe(true);
  });

  it('retries a failing handler after its delay, doubled with backoff, then keeps the job failed with its error', async () => {
    const clock = manualClock();
    const queue = await openQueue({ clock });
    const name = queueName();
    const id = (await queue.send(name, {}, { retryLimit: 2, retryDelayMs: 1000, retryBackoff: true })) as string;
    const runs: Array<{ attempt: number; at: number }> = [];
    await queue.work(name, {}, async (job) => {
      runs.push({ attempt: job.attempt, at: clock.now() });
      throw new Error(`boom ${job.attempt}`);
    });
    await waitUntil(async () => (await queue.get(name, id))?.lastError === 'boom 1');
    expect(await queue.get(name, id)).toMatchObject({ state: 'created', attempt: 1 });
    // Time moves a quarter second at a time; each retry must wait for its delay on this clock.
    while ((await queue.get(name, id))?.state !== 'failed') {
      clock.advance(250);
      queue.poke();
      await sleep(pollMs);
    }
    expect(runs.map((run) => run.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(second.at - first.at).toBeGreaterThanOrEqual(1000);
    expect(third.at - second.at).toBeGreaterThanOrEqual(2000);
    expect(await queue.get(name, id)).toEqual({
      id,
      queue: name,
      state: 'failed',
      attempt: 3,
      data: {},
      lastError: 'boom 3',
    });
  });

  it('holds a job until its startAfter on the queue clock', async () => {
    const clock = manualClock();
    const queue = await openQueue({ clock });
    const name = queueName();
    const startAfter = clock.now() + 60_000;
    const later = (await queue.send(name, { which: 'later' }, { startAfter })) as string;
    const now = await queue.send(name, { which: 'now' });
    const ran: Array<{ which: string; at: number }> = [];
    await queue.work<{ which: string }>(name, {}, async (job) => {
      ran.push({ which: job.data.which, at: clock.now() });
    });
    // The worker took the job that was due; the other one stays.
    await waitUntil(async () => (await queue.get(name, now as string)) === null);
    expect(ran.map((run) => run.which)).toEqual(['now']);
    expect(await queue.get(name, later)).toMatchObject({ state: 'created', attempt: 0 });
    while (ran.length < 2) {
      clock.advance(10_000);
      queue.poke();
      await sleep(pollMs);
    }
    expect(ran[1]?.which).toBe('later');
    expect(ran[1]?.at).toBeGreaterThanOrEqual(startAfter);
  });

  it('adds a job with a singleton key only while none with that key waits, whatever runs', async () => {
    const queue = await openQueue();
    const name = queueName();
    const first = await queue.send(name, { n: 1 }, { singletonKey: 'run-1' });
    expect(first).toEqual(expect.any(String));
    expect(await queue.send(name, { n: 2 }, { singletonKey: 'run-1' })).toBeNull();
    expect(await queue.send(name, { n: 3 }, { singletonKey: 'run-2' })).toEqual(expect.any(String));
    // Without a key, nothing is deduplicated.
    expect(await queue.send(name, { n: 4 })).toEqual(expect.any(String));
    expect(await queue.send(name, { n: 4 })).toEqual(expect.any(String));
    const release = gate();
    const started: number[] = [];
    await queue.work<{ n: number }>(name, {}, async (job) => {
      started.push(job.data.n);
      if (job.data.n === 1) await release.opened;
    });
    await waitUntil(async () => (await queue.get(name, first as string))?.state === 'active');
    // The first job runs: a new one with its key is work that came after it started, and is kept.
    const second = await queue.send(name, { n: 5 }, { singletonKey: 'run-1' });
    expect(second).toEqual(expect.any(String));
    expect(await queue.send(name, { n: 6 }, { singletonKey: 'run-1' })).toBeNull();
    release.release();
    await waitUntil(() => started.length === 5);
    expect(started.sort()).toEqual([1, 3, 4, 4, 5]);
  });

  it('never runs a job in two places at once: two owners on one database share 300 jobs', async () => {
    const name = queueName();
    const [left, right] = [await openQueue({}, 'own'), await openQueue({}, 'own')] as [JobQueue, JobQueue];
    const starts = new Map<string, number>();
    const running = new Set<string>();
    const overlaps: string[] = [];
    const handler = async (job: Job<unknown>) => {
      if (running.has(job.id)) overlaps.push(job.id);
      running.add(job.id);
      starts.set(job.id, (starts.get(job.id) ?? 0) + 1);
      await sleep(Math.random() * 2);
      running.delete(job.id);
    };
    await left.work(name, { concurrency: 4 }, handler);
    await right.work(name, { concurrency: 4 }, handler);
    const ids = await Promise.all(
      Array.from({ length: 300 }, (_, index) => (index % 2 ? left : right).send(name, { index })),
    );
    await waitUntil(() => starts.size === 300, 60_000);
    expect(overlaps).toEqual([]);
    expect([...starts.keys()].sort()).toEqual([...(ids as string[])].sort());
    expect([...starts.values()].every((count) => count === 1)).toBe(true);
  }, 90_000);

  it(
    'hands a job out again after its holder is killed, once its lease expired, with attempt 2',
    async () => {
      const name = queueName();
      const leaseMs = backend === 'pg-boss' ? 10_000 : tableLeaseMs;
      const queue = await openQueue({ leaseMs });
      const id = (await queue.send(name, { precious: true })) as string;
      const script = join(dir, 'holder.mjs');
      writeFileSync(script, holderScript);
      const source = fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, '');
      const child = spawn(
        process.execPath,
        [
          '--experimental-transform-types',
          '--conditions=@runtools/source',
          '--no-warnings',
          script,
          source,
          backend,
          target,
          name,
          String(leaseMs),
        ],
        { env: { ...process.env } },
      );
      children.push(child);
      let output = '';
      let errorOutput = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        errorOutput += chunk;
      });
      await waitUntil(() => {
        if (child.exitCode !== null) throw new Error(`the holder exited: ${errorOutput}`);
        return output.includes(`holding ${id} 1`);
      });
      const deliveries: Array<{ attempt: number; holderDead: boolean; data: unknown }> = [];
      let holderDead = false;
      await queue.work(name, {}, async (job) => {
        deliveries.push({ attempt: job.attempt, holderDead, data: job.data });
      });
      // Longer than a lease: the holder renews, so nobody else gets the job meanwhile.
      await sleep(1.5 * leaseMs);
      expect(deliveries).toEqual([]);
      expect(await queue.get(name, id)).toMatchObject({ state: 'active', attempt: 1 });
      const exited = new Promise((resolve) => child.once('close', resolve));
      holderDead = true;
      child.kill('SIGKILL');
      await exited;
      await waitUntil(() => deliveries.length > 0, 60_000);
      expect(deliveries).toEqual([{ attempt: 2, holderDead: true, data: { precious: true } }]);
      await waitUntil(async () => (await queue.get(name, id)) === null);
    },
    backend === 'pg-boss' ? 120_000 : 60_000,
  );

  it('aborts running handlers on stop() and hands their jobs out again', async () => {
    const name = queueName();
    const first = await openQueue();
    const id = (await first.send(name, { n: 1 })) as string;
    let reason: unknown;
    const started = gate();
    await first.work(name, {}, async (job) => {
      started.release();
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
      reason = job.signal.reason;
    });
    await started.opened;
    await first.stop();
    expect(reason).toBeInstanceOf(QueueStoppedError);
    const second = await openQueue();
    expect(await second.get(name, id)).toMatchObject({ state: 'created', attempt: 1 });
    const attempts: number[] = [];
    await second.work(name, {}, async (job) => {
      attempts.push(job.attempt);
    });
    await waitUntil(() => attempts.length === 1);
    expect(attempts).toEqual([2]);
  });

  it('never hands out a cancelled waiting job', async () => {
    const queue = await openQueue();
    const name = queueName();
    const cancelled = (await queue.send(name, { which: 'cancelled' })) as string;
    await queue.cancel(name, cancelled);
    expect(await queue.get(name, cancelled)).toMatchObject({ state: 'cancelled', attempt: 0 });
    const other = (await queue.send(name, { which: 'other' })) as string;
    const ran: string[] = [];
    await queue.work<{ which: string }>(name, {}, async (job) => {
      ran.push(job.data.which);
    });
    // The older job would have been taken first.
    await waitUntil(async () => (await queue.get(name, other)) === null);
    expect(ran).toEqual(['other']);
    expect(await queue.get(name, cancelled)).toMatchObject({ state: 'cancelled' });
  });

  it('aborts the handler of a cancelled running job and does not hand it out again', async () => {
    const queue = await openQueue();
    const name = queueName();
    const id = (await queue.send(name, {})) as string;
    const started = gate();
    let reason: unknown;
    let runs = 0;
    await queue.work(name, {}, async (job) => {
      runs++;
      started.release();
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
      reason = job.signal.reason;
      throw job.signal.reason;
    });
    await started.opened;
    await queue.cancel(name, id);
    await waitUntil(() => reason !== undefined);
    expect(reason).toBeInstanceOf(JobCancelledError);
    expect(await queue.get(name, id)).toMatchObject({ state: 'cancelled', attempt: 1 });
    expect(runs).toBe(1);
  });
});
