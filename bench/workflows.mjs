// Workflow engine costs, in one run, on SQLite (and on PostgreSQL when RUNTOOLS_BENCH_DATABASE_URL is set):
// - throughput of trivial nodes (transform) end to end: 20 runs of a 50-node chain at once, node executions
//   per second from the first run's start to the last run's end (goal >= 500/s embedded; n8n publishes about
//   220/s for one instance), against a plain loop doing the same database writes per node (insert the node
//   run, mark it running, store its completion, each with its event and the run's revision, in transactions);
// - approval resume latency: resolve() sent → the next node's `node.started` event (goal: median <= 50 ms),
//   against a plain authenticated GET of the approval over the same connection;
// - cron fire lateness: a trigger firing every second, run created minus its scheduled time (goal <= 1 s),
//   against the server's cron tick (1 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { RunTools } from '@runtools/sdk';
import pg from 'pg';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { createBenchDatabase } from './lib/postgres.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const chainLength = 50;
const concurrentRuns = 20;

const chain = {
  nodes: [
    { id: 'n1', type: 'transform', config: { expression: '1' } },
    ...Array.from({ length: chainLength - 1 }, (_, index) => ({
      id: `n${index + 2}`,
      type: 'transform',
      config: { expression: `nodes.n${index + 1}.output + 1` },
    })),
  ],
  edges: Array.from({ length: chainLength - 1 }, (_, index) => ({ source: `n${index + 1}`, target: `n${index + 2}` })),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitAll(rt, runIds) {
  for (const runId of runIds) {
    for (;;) {
      const run = await rt.workflows.runs.get(runId);
      if (run.status === 'completed') break;
      if (['failed', 'cancelled', 'timed_out'].includes(run.status))
        throw new Error(`run ${runId} ended ${run.status}: ${JSON.stringify(run.error)}`);
      await sleep(20);
    }
  }
}

/** Node executions per second through the platform. */
async function platformThroughput(rt) {
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: concurrentRuns }, () => rt.workflows.run('chain', {})));
  await waitAll(
    rt,
    runs.map((run) => run.runId),
  );
  return (concurrentRuns * chainLength) / ((performance.now() - started) / 1000);
}

const baselineSchema = [
  'CREATE TABLE runs (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, event_seq INTEGER NOT NULL, updated_at TEXT NOT NULL)',
  'CREATE TABLE node_runs (run_id TEXT NOT NULL, node_id TEXT NOT NULL, iteration INTEGER NOT NULL, status TEXT NOT NULL, output TEXT, PRIMARY KEY (run_id, node_id, iteration))',
  'CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, node_id TEXT, data TEXT, at TEXT NOT NULL, PRIMARY KEY (run_id, seq))',
];

/** The same writes per node as the engine makes, in a plain loop: queue it, start it, complete it. */
async function baselineThroughput(exec) {
  const total = concurrentRuns * chainLength;
  const started = performance.now();
  for (let run = 0; run < concurrentRuns; run++) {
    const runId = `r${run}-${Math.random()}`;
    let seq = 0;
    await exec([['INSERT INTO runs VALUES ($1, 0, 0, $2)', [runId, new Date().toISOString()]]]);
    for (let node = 1; node <= chainLength; node++) {
      const at = new Date().toISOString();
      for (const [status, type] of [
        ['queued', 'node.queued'],
        ['running', 'node.started'],
        ['completed', 'node.completed'],
      ]) {
        seq++;
        await exec([
          ['UPDATE runs SET revision = revision + 1, event_seq = $1, updated_at = $2 WHERE id = $3', [seq, at, runId]],
          status === 'queued'
            ? ['INSERT INTO node_runs VALUES ($1, $2, 0, $3, NULL)', [runId, `n${node}`, status]]
            : [
                'UPDATE node_runs SET status = $1, output = $2 WHERE run_id = $3 AND node_id = $4',
                [status, String(node), runId, `n${node}`],
              ],
          ['INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6)', [runId, seq, type, `n${node}`, '{"output":1}', at]],
        ]);
      }
    }
  }
  return total / ((performance.now() - started) / 1000);
}

function sqliteExec() {
  const dir = mkdtempSync(join(tmpdir(), 'runtools-bench-wf-'));
  const db = new DatabaseSync(join(dir, 'baseline.db'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  for (const statement of baselineSchema) db.exec(statement);
  const toSqlite = (sql) => sql.replace(/\$\d+/g, '?');
  return {
    exec: async (statements) => {
      db.exec('BEGIN');
      for (const [sql, params] of statements) db.prepare(toSqlite(sql)).run(...params);
      db.exec('COMMIT');
    },
    close: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresExec(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const statement of baselineSchema) await client.query(statement);
  return {
    exec: async (statements) => {
      await client.query('BEGIN');
      for (const [sql, params] of statements) await client.query(sql, params);
      await client.query('COMMIT');
    },
    close: () => client.end(),
  };
}

async function approvalLatency(rt, rounds) {
  const samples = [];
  const baseline = [];
  for (let round = 0; round < rounds; round++) {
    const run = await rt.workflows.run('gate', {});
    let approval;
    while (!approval) {
      [approval] = await rt.workflows.approvals.list({ runId: run.runId, status: 'pending' });
      if (!approval) await sleep(5);
    }
    const getStarted = performance.now();
    await rt.workflows.approvals.get(approval.id);
    baseline.push(performance.now() - getStarted);
    const sent = Date.now();
    await rt.workflows.approvals.resolve(approval.id, { approved: true });
    await waitAll(rt, [run.runId]);
    const events = await rt.workflows.events(run.runId);
    const next = events.find((event) => event.type === 'node.started' && event.nodeId === 'after');
    samples.push(Date.parse(next.at) - sent);
  }
  return { resume: median(samples), get: median(baseline) };
}

async function cronLateness(rt) {
  const trigger = await rt.workflows.triggers.create('tick', { kind: 'cron', schedule: '* * * * * *' });
  await sleep(8_000);
  await rt.workflows.triggers.delete('tick', trigger.id);
  const runs = await rt.workflows.runs.list({ workflow: 'tick' });
  const lateness = [];
  for (const run of runs) {
    const detail = await rt.workflows.runs.get(run.runId);
    lateness.push(Date.parse(detail.createdAt) - Date.parse(detail.output));
  }
  return { median: median(lateness), max: Math.max(...lateness), fires: lateness.length };
}

async function measure(databaseUrl, rounds) {
  const child = startChild(here('./lib/platform-server.mjs'), databaseUrl ? [databaseUrl] : []);
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url });
    await rt.workflows.save({ name: 'Chain', graph: chain });
    await rt.workflows.publish('chain', { visibility: 'org' });
    await rt.workflows.save({
      name: 'Gate',
      graph: {
        nodes: [
          { id: 'gate', type: 'approval', config: { message: 'go?' } },
          { id: 'after', type: 'transform', config: { expression: '1' } },
        ],
        edges: [{ source: 'gate', target: 'after' }],
      },
    });
    await rt.workflows.publish('gate', { visibility: 'org' });
    await rt.workflows.save({
      name: 'Tick',
      graph: { nodes: [{ id: 'out', type: 'output', config: { expression: 'trigger.scheduledAt' } }], edges: [] },
    });
    await rt.workflows.publish('tick', { visibility: 'org' });
    await platformThroughput(rt); // warm-up
    const platform = [];
    const plain = [];
    for (let round = 0; round < rounds; round++) {
      platform.push(await platformThroughput(rt));
      const baseline = databaseUrl ? await postgresExec(await baselineDatabase(databaseUrl)) : sqliteExec();
      try {
        plain.push(await baselineThroughput(baseline.exec));
      } finally {
        await baseline.close();
      }
    }
    const approval = await approvalLatency(rt, 20);
    const cron = await cronLateness(rt);
    return { platform: median(platform), plain: median(plain), approval, cron };
  } finally {
    await child.stop();
  }
}

let baselineDatabases = [];
async function baselineDatabase(serverUrl) {
  const database = await createBenchDatabase(serverUrl);
  baselineDatabases.push(database);
  return database.url;
}

export async function run({ rounds, postgresUrl }) {
  const rows = [{ database: 'sqlite', ...(await measure(undefined, rounds)) }];
  if (postgresUrl) {
    const database = await createBenchDatabase(postgresUrl);
    try {
      rows.push({ database: 'postgres', ...(await measure(database.url, rounds)) });
    } finally {
      await database.drop();
      for (const baseline of baselineDatabases) await baseline.drop().catch(() => {});
      baselineDatabases = [];
    }
  }
  return rows;
}

export const meta = {
  name: 'workflows',
  title: 'Workflow nodes end to end vs. the same database writes in a plain loop; approval resume; cron lateness',
  goal: { nodesPerSecond: 500, resumeMs: 50, latenessMs: 1000 },
};

export function report(rows) {
  const lines = [];
  const summary = [];
  for (const row of rows) {
    lines.push(
      `${row.database}: ${row.platform.toFixed(0)} node executions/s (${concurrentRuns} runs x ${chainLength} transform nodes), ` +
        `plain loop of the same writes ${row.plain.toFixed(0)}/s: ${(row.platform / row.plain).toFixed(2)}x`,
      `${row.database}: approval resolve -> next node started: median ${row.approval.resume.toFixed(1)} ms ` +
        `(a GET of the approval: ${row.approval.get.toFixed(1)} ms, ${(row.approval.resume / row.approval.get).toFixed(1)}x)`,
      `${row.database}: cron lateness over ${row.cron.fires} fires: median ${row.cron.median} ms, max ${row.cron.max} ms (tick 1000 ms: ${(row.cron.max / 1000).toFixed(2)}x)`,
    );
    summary.push(
      `workflows (${row.database}): ${row.platform.toFixed(0)} nodes/s, ${(row.platform / row.plain).toFixed(2)}x of the plain writes (goal >= ${meta.goal.nodesPerSecond}/s: ${row.platform >= meta.goal.nodesPerSecond ? 'met' : 'missed'})`,
      `workflows (${row.database}): approval resume median ${row.approval.resume.toFixed(1)} ms (goal <= ${meta.goal.resumeMs} ms: ${row.approval.resume <= meta.goal.resumeMs ? 'met' : 'missed'})`,
      `workflows (${row.database}): cron lateness max ${row.cron.max} ms (goal <= ${meta.goal.latenessMs} ms: ${row.cron.max <= meta.goal.latenessMs ? 'met' : 'missed'})`,
    );
  }
  return { lines, summary };
}
