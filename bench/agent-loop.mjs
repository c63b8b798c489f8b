// The agent loop's own cost, in one run: agents on a crun sandbox talk to the scripted model server
// (test/support/model-server.ts, answering at once over the OpenAI protocol), and the platform's time is what
// is left of a run's wall time (run started → `done` received over SSE by the SDK) after the model's time
// (measured by the model server, first byte in to last byte out) and the tools' time (each tool-result's
// durationMs). Two workloads:
// - loop overhead: 20 iterations of one `bash true` call each, per iteration (goal: median <= 5 ms);
// - a 10-step coding run (write a script, run it, read the error, fix it, run it again, …) end to end
//   against the sum of its model and tool times.
import { RunTools } from '@runtools/sdk';
import { startModelServer } from '../test/support/model-server.ts';
import { measureAgentRun } from './lib/agent-run.mjs';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const loopIterations = 20;

/** The ten steps of a small coding session: the model writes a script with a bug, runs it, fixes it. */
const codingTurns = [
  { toolCalls: [{ name: 'write_file', input: { path: 'sum.sh', content: 'echo $((1 + ))\n' } }] },
  { toolCalls: [{ name: 'bash', input: { command: 'sh sum.sh' } }] },
  { toolCalls: [{ name: 'read_file', input: { path: 'sum.sh' } }] },
  { toolCalls: [{ name: 'edit_file', input: { path: 'sum.sh', oldText: '1 + ', newText: '1 + 41' } }] },
  { toolCalls: [{ name: 'bash', input: { command: 'sh sum.sh' } }] },
  { toolCalls: [{ name: 'write_file', input: { path: 'test.sh', content: '[ "$(sh sum.sh)" = 42 ] && echo ok\n' } }] },
  { toolCalls: [{ name: 'bash', input: { command: 'sh test.sh' } }] },
  { toolCalls: [{ name: 'grep', input: { pattern: '41', path: '.' } }] },
  { toolCalls: [{ name: 'list_directory', input: { path: '.' } }] },
  { text: 'sum.sh prints 42 and its test passes.' },
];

export async function run({ rounds }) {
  const child = startChild(here('./lib/platform-server.mjs'));
  const model = await startModelServer();
  const loops = [];
  const codings = [];
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 15 * 60_000 });
    await rt.providers.create({ name: 'bench', type: 'openai-compatible', baseUrl: model.openaiBaseUrl });
    const box = await rt.sandboxes.create({ runtime: 'container' });
    try {
      await rt.agents.create({ slug: 'loop', model: 'bench/instant', sandbox: box.id, maxIterations: 100 });
      const loopTurns = [
        ...Array.from({ length: loopIterations }, () => ({
          toolCalls: [{ name: 'bash', input: { command: 'true' } }],
        })),
        { text: 'done' },
      ];
      await measureAgentRun(rt, model, 'loop', loopTurns); // warm-up
      for (let round = 0; round < Math.max(rounds, 3) * 2; round++)
        loops.push(await measureAgentRun(rt, model, 'loop', loopTurns));
      for (let round = 0; round < Math.max(rounds, 3); round++)
        codings.push(await measureAgentRun(rt, model, 'loop', codingTurns));
    } finally {
      await box.destroy();
    }
  } finally {
    await model.close();
    await child.stop();
  }
  const perIteration = loops.map((sample) => sample.platform / sample.steps);
  return [
    {
      name: `loop overhead (${loopIterations + 1} steps)`,
      wall: median(loops.map((sample) => sample.wall)),
      modelMs: median(loops.map((sample) => sample.modelMs)),
      toolMs: median(loops.map((sample) => sample.toolMs)),
      perIteration: median(perIteration),
      ratio: median(loops.map((sample) => sample.wall / (sample.modelMs + sample.toolMs))),
    },
    {
      name: '10-step coding run',
      wall: median(codings.map((sample) => sample.wall)),
      modelMs: median(codings.map((sample) => sample.modelMs)),
      toolMs: median(codings.map((sample) => sample.toolMs)),
      perIteration: median(codings.map((sample) => sample.platform / sample.steps)),
      ratio: median(codings.map((sample) => sample.wall / (sample.modelMs + sample.toolMs))),
    },
  ];
}

export const meta = {
  name: 'agent-loop',
  title: 'Agent runs against an instant scripted model: wall time vs the model and tool time inside it (ms)',
};

export function report(rows) {
  const lines = [
    `${'run'.padEnd(28)}${'wall'.padStart(9)}${'model'.padStart(9)}${'tools'.padStart(9)}${'platform/step'.padStart(15)}${'x model+tools'.padStart(15)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(28)}${row.wall.toFixed(1).padStart(9)}${row.modelMs.toFixed(1).padStart(9)}${row.toolMs.toFixed(1).padStart(9)}${row.perIteration.toFixed(2).padStart(15)}${row.ratio.toFixed(2).padStart(15)}`,
    ),
  ];
  const [loop, coding] = rows;
  return {
    lines,
    summary: [
      `agent-loop: ${loop.perIteration.toFixed(2)} ms of platform time per iteration (goal <= 5 ms: ${loop.perIteration <= 5 ? 'met' : 'missed'})`,
      `agent-loop: a 10-step coding run takes ${coding.wall.toFixed(0)} ms, ${coding.ratio.toFixed(2)}x the sum of its model and tool times`,
    ],
  };
}
