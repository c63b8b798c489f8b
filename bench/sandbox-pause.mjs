// Pause to disk and resume through the SDK (gVisor: checkpoint and stop, then restore), against the raw
// runtime's own `runsc checkpoint` + `delete` / `runsc restore` of a container running the same workload, in one run. The
// workload holds 50 MB in a process's memory, so both images carry it. Goal: resume median under 500 ms and
// at most 1.3x the raw runtime.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { rawRuntime } from './lib/raw-runtime.mjs';
import { sandboxBench, timed } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const workload = ['perl', '-e', '$x = "a" x 50_000_000; sleep 3600'];

export async function run({ rounds }) {
  const { tools, rootfs, work } = await sandboxBench('bench-pause');
  const child = startChild(here('./lib/platform-server.mjs'));
  const raw = rawRuntime('gvisor', tools, work, rootfs);
  const samples = { rawCheckpoint: [], rawRestore: [], pause: [], resume: [] };
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 10 * 60_000 });
    for (let round = 0; round < Math.max(3, rounds * 2); round++) {
      const id = `raw-pause-${randomBytes(4).toString('hex')}`;
      await raw.startWith(id, 'pause', workload);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const image = join(work, `image-${round}`);
      samples.rawCheckpoint.push((await timed(() => raw.checkpoint(id, image))).ms);
      samples.rawRestore.push((await timed(() => raw.restoreFrom(id, 'pause', image))).ms);
      await raw.remove(id);

      const box = await rt.sandboxes.create({ runtime: 'gvisor' });
      try {
        await box.exec(workload.map((part) => `'${part}'`).join(' '), { background: true });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        samples.pause.push((await timed(() => box.pause())).ms);
        samples.resume.push((await timed(() => box.resume())).ms);
        const check = await box.exec('true');
        if (check.exitCode !== 0) throw new Error('exec after resume failed');
      } finally {
        await box.destroy();
      }
    }
  } finally {
    await child.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return [
    { name: 'raw checkpoint + delete', median: median(samples.rawCheckpoint) },
    {
      name: 'SDK pause (to disk)',
      median: median(samples.pause),
      ratio: median(samples.pause) / median(samples.rawCheckpoint),
    },
    { name: 'raw runsc restore', median: median(samples.rawRestore) },
    {
      name: 'SDK resume (from disk)',
      median: median(samples.resume),
      ratio: median(samples.resume) / median(samples.rawRestore),
      goal: true,
    },
  ];
}

export const meta = {
  name: 'sandbox-pause',
  title: 'gVisor pause to disk and resume through the SDK vs raw runsc checkpoint/restore, 50 MB in memory (ms)',
};

export function report(rows) {
  const lines = [
    `${'target'.padEnd(28)}${'median ms'.padStart(11)}${'x raw'.padStart(8)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(28)}${row.median.toFixed(1).padStart(11)}${(row.ratio === undefined ? '' : row.ratio.toFixed(2)).padStart(8)}`,
    ),
  ];
  const resume = rows.find((row) => row.goal);
  const summary = [
    `sandbox-pause: resume ${resume.median.toFixed(0)} ms, ${resume.ratio.toFixed(2)}x raw restore ` +
      `(goal < 500 ms and <= 1.3x: ${resume.median < 500 && resume.ratio <= 1.3 ? 'met' : 'missed'})`,
  ];
  return { lines, summary };
}
