// The job queue alone (apps/server/src/queue, built): jobs per second through send → claim → handler →
// completion, against a plain loop doing the rows' own writes (insert the job, delete it) through the same
// database connection, in the same run. Two shapes: one chain (each handler sends the next job: a run
// advancing node by node, so the in-process hand-off latency shows) and 20 chains at once on 16 handlers.
// SQLite with the table queue; with RUNTOOLS_BENCH_DATABASE_URL, PostgreSQL with pg-boss and the table queue.
// Goal: >= 1000 jobs/s embedded (the workflow goal of 500 node executions/s takes about two jobs a node).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '../apps/server/dist/db/database.js';
import { PgBossQueue } from '../apps/server/dist/queue/pg-boss-queue.js';
import { TableQueue } from '../apps/server/dist/queue/table-queue.js';
import { median } from './lib/load.mjs';
import { createBenchDatabase } from './lib/postgres.mjs';

const chains = 20;

/** Inserts a job row and deletes it, one after the other, for `durationMs`: the floor of a job's writes. */
async function baseline(db, durationMs) {
  const now = new Date().toISOString();
  const insert = sql`insert into jobs (id, queue, data, state, attempt, failures, retry_limit, retry_delay_ms,
    retry_backoff, start_after, created_at, updated_at)
    values (${'id'}, 'bench.baseline', '{}', 'created', 0, 0, 0, 1000, 0, ${now}, ${now}, ${now})`.compile(db.kysely);
  const remove = sql`delete from jobs where id = ${'id'}`.compile(db.kysely);
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < durationMs) {
    const id = `job_baseline_${count}`;
    await db.kysely.executeQuery({ ...insert, parameters: [id, ...insert.parameters.slice(1)] });
    await db.kysely.executeQuery({ ...remove, parameters: [id] });
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

/** `width` chains of jobs, each handler sending the next, on `concurrency` handlers, for `durationMs`. */
async function throughput(queue, name, width, concurrency, durationMs) {
  let count = 0;
  let open = true;
  let ended;
  const finished = new Promise((resolve) => {
    ended = resolve;
  });
  let inFlight = width;
  await queue.work(name, { concurrency }, async () => {
    count++;
    if (open) await queue.send(name, {});
    else if (--inFlight === 0) ended();
  });
  const started = performance.now();
  for (let index = 0; index < width; index++) await queue.send(name, {});
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  open = false;
  await finished;
  return count / ((performance.now() - started) / 1000);
}

async function measure(target, { durationMs, rounds }) {
  const db = await openDatabase(target.database);
  const samples = { baseline: [], chain: [], chains: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      // A fresh queue per round: a queue takes one worker per queue name.
      const queue =
        target.backend === 'pg-boss'
          ? new PgBossQueue(target.database, { onError: (error) => console.error(error) })
          : new TableQueue(db.kysely, db.dialect, { onError: (error) => console.error(error) });
      await queue.start();
      try {
        const steps = [
          async () => samples.baseline.push(await baseline(db, durationMs)),
          async () => samples.chain.push(await throughput(queue, `bench.chain.${round}`, 1, 1, durationMs)),
          async () => samples.chains.push(await throughput(queue, `bench.chains.${round}`, chains, 16, durationMs)),
        ];
        // Alternate the order each round so drift does not favour one side.
        for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step();
      } finally {
        await queue.stop();
      }
    }
  } finally {
    await db.close();
  }
  return {
    name: target.name,
    baseline: median(samples.baseline),
    chain: median(samples.chain),
    chains: median(samples.chains),
  };
}

export async function run({ durationMs, rounds, postgresUrl }) {
  const dir = mkdtempSync(join(tmpdir(), 'runtools-bench-queue-'));
  const drops = [];
  try {
    const targets = [{ name: 'table queue, SQLite', backend: 'table', database: join(dir, 'runtools.db') }];
    if (postgresUrl) {
      for (const backend of ['pg-boss', 'table']) {
        const database = await createBenchDatabase(postgresUrl);
        drops.push(database.drop);
        targets.push({
          name: `${backend === 'table' ? 'table queue' : 'pg-boss'}, PostgreSQL`,
          backend,
          database: database.url,
        });
      }
    }
    const rows = [];
    for (const target of targets) rows.push(await measure(target, { durationMs, rounds }));
    return rows;
  } finally {
    for (const drop of drops) await drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export const meta = {
  name: 'queue',
  title: 'Job queue: jobs/s through send, claim, handler and completion vs. inserting and deleting the rows',
  goal: { jobsPerSecond: 1000, text: '>= 1000 jobs/s on the embedded table queue (SQLite)' },
};

const pad = (value, width) => String(value).padStart(width);

export function report(rows, options) {
  const lines = [
    `${options.rounds} rounds x ${options.durationMs / 1000} s per shape, Node ${process.versions.node}, medians of rounds`,
    `${'target'.padEnd(24)}${pad('rows/s', 9)}${pad('chain/s', 9)}${pad('x', 6)}${pad(`${chains} ch/s`, 10)}${pad('x', 6)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(24)}${pad(row.baseline.toFixed(0), 9)}${pad(row.chain.toFixed(0), 9)}` +
        `${pad((row.chain / row.baseline).toFixed(2), 6)}${pad(row.chains.toFixed(0), 10)}${pad((row.chains / row.baseline).toFixed(2), 6)}`,
    ),
    'rows/s: the baseline, a job row inserted then deleted; x: jobs/s as a ratio of it',
  ];
  const [embedded] = rows;
  const best = Math.min(embedded.chain, embedded.chains);
  const summary = [
    `${meta.name} (${embedded.name}): ${embedded.chain.toFixed(0)} jobs/s in one chain, ${embedded.chains.toFixed(0)} in ` +
      `${chains} (${(embedded.chain / embedded.baseline).toFixed(2)}x / ${(embedded.chains / embedded.baseline).toFixed(2)}x ` +
      `of inserting and deleting the rows; goal: ${meta.goal.text}: ${best >= meta.goal.jobsPerSecond ? 'met' : 'missed'})`,
  ];
  return { lines, summary };
}
