// Snapshots and branches of gVisor sandboxes through the SDK, against the raw runtime in the same run: a
// snapshot vs `runsc checkpoint --leave-running` of a container running the same workload, a branch (a new
// sandbox from the snapshot) vs `runsc restore` of that image into a new container. The workload holds 0, 50
// and 200 MB of random bytes in a process's memory, so the figures show how time and size follow memory in use.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { rawRuntime } from './lib/raw-runtime.mjs';
import { sandboxBench, timed } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const sizes = [0, 50, 200];
// Random bytes, so that gVisor's compressed image is as large as the memory really in use.
const workload = (megabytes) =>
  megabytes
    ? ['perl', '-e', `open my $f, "<", "/dev/urandom"; read $f, my $x, ${megabytes}_000_000; sleep 3600`]
    : ['sleep', '3600'];

async function bytesOf(path) {
  const used = await runCommand('du', ['-sb', path]);
  return Number(used.stdout.toString().split('\t')[0]);
}

export async function run({ rounds }) {
  const { tools, rootfs, work } = await sandboxBench('bench-snapshot');
  const child = startChild(here('./lib/platform-server.mjs'));
  const raw = rawRuntime('gvisor', tools, work, rootfs);
  const rows = [];
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 10 * 60_000 });
    for (const megabytes of sizes) {
      const samples = { rawSnapshot: [], rawBranch: [], rawBytes: [], snapshot: [], branch: [], bytes: [] };
      for (let round = 0; round < Math.max(2, rounds); round++) {
        const id = `raw-snap-${randomBytes(4).toString('hex')}`;
        await raw.startWith(id, `snap-${megabytes}`, workload(megabytes));
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const image = join(work, `image-${megabytes}-${round}`);
        samples.rawSnapshot.push((await timed(() => raw.snapshot(id, image))).ms);
        samples.rawBytes.push(await bytesOf(image));
        const copy = `${id}-b`;
        // Into a bundle (and cgroup) of its own, as a branch gets.
        samples.rawBranch.push(
          (await timed(() => raw.restoreFrom(copy, `snap-${megabytes}-b`, image, workload(megabytes)))).ms,
        );
        await raw.remove(copy);
        await raw.remove(id);

        const box = await rt.sandboxes.create({ runtime: 'gvisor' });
        try {
          await box.exec(
            workload(megabytes)
              .map((part) => `'${part}'`)
              .join(' '),
            { background: true },
          );
          await new Promise((resolve) => setTimeout(resolve, 1500));
          const snapshot = await timed(() => box.snapshot());
          samples.snapshot.push(snapshot.ms);
          samples.bytes.push(snapshot.value.sizeBytes);
          const branch = await timed(() => box.branch({ snapshot: snapshot.value.id }));
          samples.branch.push(branch.ms);
          if ((await branch.value.exec('true')).exitCode !== 0) throw new Error('exec in the branch failed');
          await branch.value.destroy();
          await box.snapshots.delete(snapshot.value.id);
        } finally {
          await box.destroy();
        }
      }
      rows.push({
        megabytes,
        rawSnapshot: median(samples.rawSnapshot),
        snapshot: median(samples.snapshot),
        rawBytes: median(samples.rawBytes),
        bytes: median(samples.bytes),
        rawBranch: median(samples.rawBranch),
        branch: median(samples.branch),
      });
    }
  } finally {
    await child.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export const meta = {
  name: 'sandbox-snapshot',
  title: 'gVisor snapshot and branch through the SDK vs raw runsc checkpoint --leave-running / restore (ms, MB)',
};

export function report(rows) {
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  const lines = [
    `${'memory'.padEnd(8)}${'raw ckpt'.padStart(10)}${'snapshot'.padStart(10)}${'x raw'.padStart(7)}` +
      `${'image MB'.padStart(10)}${'snap MB'.padStart(9)}${'raw restore'.padStart(13)}${'branch'.padStart(9)}${'x raw'.padStart(7)}`,
    ...rows.map(
      (row) =>
        `${`${row.megabytes} MB`.padEnd(8)}${row.rawSnapshot.toFixed(0).padStart(10)}${row.snapshot.toFixed(0).padStart(10)}` +
        `${(row.snapshot / row.rawSnapshot).toFixed(2).padStart(7)}${mb(row.rawBytes).padStart(10)}${mb(row.bytes).padStart(9)}` +
        `${row.rawBranch.toFixed(0).padStart(13)}${row.branch.toFixed(0).padStart(9)}${(row.branch / row.rawBranch).toFixed(2).padStart(7)}`,
    ),
  ];
  const summary = rows.map(
    (row) =>
      `sandbox-snapshot: ${row.megabytes} MB in memory: snapshot ${row.snapshot.toFixed(0)} ms ` +
      `(${(row.snapshot / row.rawSnapshot).toFixed(2)}x raw checkpoint), ${mb(row.bytes)} MB; ` +
      `branch ${row.branch.toFixed(0)} ms (${(row.branch / row.rawBranch).toFixed(2)}x raw restore)`,
  );
  return { lines, summary };
}
