#!/usr/bin/env node
// `npm run bench`: runs every benchmark and prints medians, p95 and ratios against the baseline measured in
// the same run. It reports; it does not gate: a missed goal still exits 0, a benchmark that fails to run does not.
import { parseArgs } from 'node:util';
import * as secretsList from './secrets-list.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
  },
});
const options = {
  durationMs: Number(values.duration) * 1000,
  connections: Number(values.connections),
  rounds: Number(values.rounds),
  postgresUrl: process.env.RUNTOOLS_BENCH_DATABASE_URL,
};
if (!(options.durationMs > 0 && options.connections > 0 && options.rounds > 0)) {
  console.error('usage: node bench/run.mjs [--duration seconds] [--connections n] [--rounds n]');
  process.exit(2);
}

const pad = (value, width) => String(value).padStart(width);
const benchmarks = [secretsList];
let failed = 0;
const summary = [];
for (const benchmark of benchmarks) {
  console.log(`\n${benchmark.meta.name}: ${benchmark.meta.title}`);
  console.log(
    `${options.rounds} rounds x ${options.durationMs / 1000} s, ${options.connections} connections, Node ${process.versions.node}, medians of rounds`,
  );
  try {
    const rows = await benchmark.run(options);
    const [baseline] = rows;
    console.log(
      `${'target'.padEnd(24)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('x rps', 8)}${pad('x p50', 8)}`,
    );
    for (const row of rows) {
      console.log(
        `${row.name.padEnd(24)}${pad(row.rps.toFixed(0), 10)}${pad(row.p50.toFixed(2), 9)}${pad(row.p95.toFixed(2), 9)}` +
          `${pad((row.rps / baseline.rps).toFixed(2), 8)}${pad((row.p50 / baseline.p50).toFixed(2), 8)}`,
      );
    }
    for (const row of rows.slice(1)) {
      const ratio = row.rps / baseline.rps;
      summary.push(
        `${benchmark.meta.name} (${row.name}): ${ratio.toFixed(2)}x of ${baseline.name} throughput ` +
          `(goal: ${benchmark.meta.goal.text}: ${ratio >= benchmark.meta.goal.ratio ? 'met' : 'missed'})`,
      );
    }
  } catch (error) {
    failed++;
    console.error(`${benchmark.meta.name} failed: ${error.stack ?? error}`);
  }
}
console.log(`\n${summary.join('\n')}`);
process.exit(failed ? 1 : 0);
