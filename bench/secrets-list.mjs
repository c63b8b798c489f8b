// Authenticated `GET /v1/secrets` (key lookup, scope check, a query, JSON out) on the real server, against a
// bare Hono handler returning the same body, each in its own child process, measured in alternating rounds.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startChild } from './lib/child.mjs';
import { load, median } from './lib/load.mjs';
import { createBenchDatabase } from './lib/postgres.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const secretCount = 10;

async function startPlatform(databaseUrl) {
  const child = startChild(here('./lib/platform-server.mjs'), databaseUrl ? [databaseUrl] : []);
  const info = await child.ready;
  for (let index = 0; index < secretCount; index++) {
    const response = await fetch(`${info.url}/v1/secrets`, {
      method: 'POST',
      headers: { 'x-api-key': info.adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `BENCH_SECRET_${index}`,
        value: randomBytes(24).toString('hex'),
        category: 'custom',
      }),
    });
    if (response.status !== 201)
      throw new Error(`seeding a secret failed: ${response.status} ${await response.text()}`);
  }
  const check = await fetch(`${info.url}/v1/secrets`, { headers: { 'x-api-key': info.adminKey } });
  const body = await check.text();
  if (check.status !== 200) throw new Error(`GET /v1/secrets answered ${check.status}: ${body}`);
  return { child, url: `${info.url}/v1/secrets`, headers: { 'x-api-key': info.adminKey }, body };
}

export async function run({ durationMs, connections, rounds, postgresUrl }) {
  const stops = [];
  try {
    const platform = await startPlatform();
    stops.push(platform.child.stop);
    const baseline = startChild(here('./lib/bare-hono-server.mjs'), [platform.body]);
    stops.push(baseline.stop);
    const baselineInfo = await baseline.ready;
    const targets = [
      { name: 'bare Hono (baseline)', url: `${baselineInfo.url}/v1/secrets`, headers: {} },
      { name: 'RunTools, SQLite', url: platform.url, headers: platform.headers },
    ];
    if (postgresUrl) {
      const database = await createBenchDatabase(postgresUrl);
      stops.push(database.drop);
      const onPostgres = await startPlatform(database.url);
      stops.unshift(onPostgres.child.stop);
      targets.push({ name: 'RunTools, PostgreSQL', url: onPostgres.url, headers: onPostgres.headers });
    }

    const warmupMs = Math.min(2000, durationMs);
    for (const target of targets) await load({ ...target, connections, durationMs: warmupMs });
    const samples = new Map(targets.map((target) => [target.name, []]));
    for (let round = 0; round < rounds; round++) {
      // Alternate the order each round so drift (thermal, GC, page cache) does not favour one side.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const result = await load({ ...target, connections, durationMs });
        if (result.errors || result.non2xx)
          throw new Error(`${target.name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
        samples.get(target.name).push(result);
      }
    }
    return targets.map((target) => {
      const list = samples.get(target.name);
      return {
        name: target.name,
        rps: median(list.map((sample) => sample.rps)),
        p50: median(list.map((sample) => sample.p50)),
        p95: median(list.map((sample) => sample.p95)),
        requests: list.reduce((sum, sample) => sum + sample.requests, 0),
      };
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

export const meta = {
  name: 'secrets-list',
  title: 'Authenticated GET /v1/secrets vs. a bare Hono handler with the same body',
  goal: { ratio: 0.5, text: 'throughput >= 0.5x of bare Hono' },
};

const pad = (value, width) => String(value).padStart(width);

export function report(rows, options) {
  const [baseline] = rows;
  const lines = [
    `${options.rounds} rounds x ${options.durationMs / 1000} s, ${options.connections} connections, Node ${process.versions.node}, medians of rounds`,
    `${'target'.padEnd(24)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('x rps', 8)}${pad('x p50', 8)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(24)}${pad(row.rps.toFixed(0), 10)}${pad(row.p50.toFixed(2), 9)}${pad(row.p95.toFixed(2), 9)}` +
        `${pad((row.rps / baseline.rps).toFixed(2), 8)}${pad((row.p50 / baseline.p50).toFixed(2), 8)}`,
    ),
  ];
  const summary = rows.slice(1).map((row) => {
    const ratio = row.rps / baseline.rps;
    return (
      `${meta.name} (${row.name}): ${ratio.toFixed(2)}x of ${baseline.name} throughput ` +
      `(goal: ${meta.goal.text}: ${ratio >= meta.goal.ratio ? 'met' : 'missed'})`
    );
  });
  return { lines, summary };
}
