#!/usr/bin/env node
// `npm run bench`: runs every benchmark and prints medians, p95 and ratios against the baseline measured in
// the same run. It reports; it does not gate: a missed goal still exits 0, a benchmark that fails to run does not.
import { parseArgs } from 'node:util';
import * as agentLoop from './agent-loop.mjs';
import * as devUrlProxy from './dev-url-proxy.mjs';
import * as mesh from './mesh.mjs';
import * as queue from './queue.mjs';
import * as sandbox from './sandbox.mjs';
import * as sandboxDensity from './sandbox-density.mjs';
import * as sandboxPause from './sandbox-pause.mjs';
import * as sandboxSnapshot from './sandbox-snapshot.mjs';
import * as secretsList from './secrets-list.mjs';
import * as ssh from './ssh.mjs';
import * as tools from './tools.mjs';
import * as workflows from './workflows.mjs';
import * as workspaceFiles from './workspace-files.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const options = {
  durationMs: Number(values.duration) * 1000,
  connections: Number(values.connections),
  rounds: Number(values.rounds),
  postgresUrl: process.env.RUNTOOLS_BENCH_DATABASE_URL,
};
if (!(options.durationMs > 0 && options.connections > 0 && options.rounds > 0)) {
  console.error('usage: node bench/run.mjs [--duration seconds] [--connections n] [--rounds n] [--only name,name]');
  process.exit(2);
}

const benchmarks = [
  secretsList,
  sandbox,
  sandboxPause,
  sandboxSnapshot,
  workspaceFiles,
  devUrlProxy,
  ssh,
  agentLoop,
  tools,
  queue,
  workflows,
  mesh,
  sandboxDensity,
];
const only = values.only ? values.only.split(',') : undefined;
let failed = 0;
const summary = [];
for (const benchmark of benchmarks) {
  if (only && !only.includes(benchmark.meta.name)) continue;
  console.log(`\n${benchmark.meta.name}: ${benchmark.meta.title}`);
  try {
    const rows = await benchmark.run(options);
    const result = benchmark.report(rows, options);
    console.log(result.lines.join('\n'));
    summary.push(...result.summary);
  } catch (error) {
    failed++;
    console.error(`${benchmark.meta.name} failed: ${error.stack ?? error}`);
  }
}
console.log(`\n${summary.join('\n')}`);
process.exit(failed ? 1 : 0);
