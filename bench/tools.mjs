// Custom tools: a warm call through the platform (SDK → API → tool service → the org's runner sandbox → the
// runner's Node process and back) against the same function called in the same runner's Node process (the
// baseline, timed inside it), per tool runtime; and the cold start (the first call after a deploy, which
// creates the runner sandbox). Goal: platform overhead (warm median - baseline median) <= 10 ms on
// container, <= 30 ms on gVisor.

import { RunTools } from '@runtools/sdk';
import { build } from 'esbuild';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const calls = 200;

const source = `
const echo = async (params) => ({ echoed: params.text });
export default {
  actions: {
    echo: { execute: echo },
    baseline: {
      execute: async (params) => {
        const samples = [];
        for (let index = 0; index < params.calls; index++) {
          const started = performance.now();
          await echo({ text: 'hello' });
          samples.push(performance.now() - started);
        }
        samples.sort((a, b) => a - b);
        return { median: samples[Math.floor(samples.length / 2)] };
      },
    },
  },
};`;

async function measure(runtime) {
  const child = startChild(here('./lib/platform-server.mjs'), [], { RUNTOOLS_TOOL_RUNTIME: runtime });
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 15 * 60_000 });
    const bundled = await build({ stdin: { contents: source }, format: 'esm', write: false });
    const object = { type: 'object', properties: {} };
    await rt.tools.deploy({
      name: 'bench',
      description: 'echo',
      actions: [
        { name: 'echo', description: 'echo', parameters: object },
        { name: 'baseline', description: 'the same function, timed in the runner', parameters: object },
      ],
      bundle: Buffer.from(bundled.outputFiles[0].contents).toString('base64'),
    });
    let started = performance.now();
    await rt.tools.execute('bench', { action: 'echo', params: { text: 'hello' } });
    const cold = performance.now() - started;
    for (let index = 0; index < 20; index++)
      await rt.tools.execute('bench', { action: 'echo', params: { text: 'hello' } });
    const warm = [];
    for (let index = 0; index < calls; index++) {
      started = performance.now();
      const answer = await rt.tools.execute('bench', { action: 'echo', params: { text: 'hello' } });
      warm.push(performance.now() - started);
      if (answer.result.echoed !== 'hello') throw new Error(`unexpected result ${JSON.stringify(answer.result)}`);
    }
    const baseline = (await rt.tools.execute('bench', { action: 'baseline', params: { calls } })).result.median;
    warm.sort((a, b) => a - b);
    return { runtime, cold, median: median(warm), p95: warm[Math.floor(warm.length * 0.95)], baseline };
  } finally {
    await child.stop();
  }
}

export async function run() {
  return [await measure('container'), await measure('gvisor')];
}

export const meta = {
  name: 'tools',
  title: 'Custom tool calls: warm through the platform vs the same function in the runner; cold start (ms)',
};

const goals = { container: 10, gvisor: 30 };

export function report(rows) {
  const lines = [
    `${'runtime'.padEnd(12)}${'cold'.padStart(9)}${'median'.padStart(9)}${'p95'.padStart(9)}${'baseline'.padStart(10)}${'overhead'.padStart(10)}${'x base'.padStart(10)}`,
    ...rows.map(
      (row) =>
        `${row.runtime.padEnd(12)}${row.cold.toFixed(0).padStart(9)}${row.median.toFixed(2).padStart(9)}${row.p95.toFixed(2).padStart(9)}${row.baseline.toFixed(4).padStart(10)}${(row.median - row.baseline).toFixed(2).padStart(10)}${(row.median / row.baseline).toFixed(0).padStart(10)}`,
    ),
  ];
  return {
    lines,
    summary: rows.map((row) => {
      const overhead = row.median - row.baseline;
      return `tools: ${row.runtime} warm call ${row.median.toFixed(2)} ms, ${overhead.toFixed(2)} ms over the function itself (goal <= ${goals[row.runtime]} ms: ${overhead <= goals[row.runtime] ? 'met' : 'missed'}); cold start ${row.cold.toFixed(0)} ms`;
    }),
  };
}
