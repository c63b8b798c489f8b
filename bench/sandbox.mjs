// Sandboxes through the SDK against the raw runtime, per driver, all measured in this run:
//   create → first exec('true') vs `runsc run` / `crun run` of /bin/true on the same root filesystem;
//   exec('true') round trip vs `runsc exec` / `crun exec` of /bin/true in an idle raw container;
//   exec throughput with 10 concurrent callers;
//   syscall-heavy work (fork+exec, find, git, node) in a `base` sandbox vs the same commands chrooted natively.
// Needs root and the runtime (./dev setup); builds the minimal and base templates on first use.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { rawRuntime } from './lib/raw-runtime.mjs';
import { sandboxBench, timed } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const percentile = (values, q) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

const workloads = [
  ['fork+exec of true x200', 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'],
  ['find /usr | wc -l', 'find /usr | wc -l'],
  [
    'git: init + 20 commits',
    'rm -rf /tmp/bench-repo && git init -q /tmp/bench-repo && cd /tmp/bench-repo && for i in $(seq 20); do echo $i > f; git add f; git -c user.name=b -c user.email=b@b commit -qm $i; done',
  ],
  ['node -e 0 x3', 'for i in 1 2 3; do node -e 0; done'],
];

export async function run({ rounds, durationMs }) {
  const { tools, rootfs, work } = await sandboxBench('bench');
  const child = startChild(here('./lib/platform-server.mjs'));
  const rows = [];
  const created = [];
  try {
    const { url, adminKey, dataDir } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 30 * 60_000 });
    const iterations = Math.max(5, rounds * 4);
    for (const runtime of ['gvisor', 'container']) {
      const raw = rawRuntime(runtime, tools, work, rootfs);

      // Create → first exec vs a raw run of true, alternating.
      const rawRuns = [];
      const creates = [];
      for (let index = 0; index < iterations; index++) {
        const rawRun = await timed(() => raw.runTrue(`raw-${randomBytes(4).toString('hex')}`));
        if (rawRun.value.exitCode !== 0) throw new Error(`raw ${runtime} run failed: ${rawRun.value.stderr}`);
        rawRuns.push(rawRun.ms);
        const sandbox = await timed(async () => {
          const box = await rt.sandboxes.create({ runtime });
          await box.exec('true');
          return box;
        });
        creates.push(sandbox.ms);
        await sandbox.value.destroy();
      }
      rows.push({ group: runtime, name: 'raw run of true', median: median(rawRuns), p95: percentile(rawRuns, 0.95) });
      rows.push({
        group: runtime,
        name: 'SDK create + first exec',
        median: median(creates),
        p95: percentile(creates, 0.95),
        ratio: median(creates) / median(rawRuns),
        goal: { ratio: 1.3, ms: runtime === 'gvisor' ? 500 : 150 },
      });

      // exec('true') round trips.
      const idleId = `raw-idle-${randomBytes(4).toString('hex')}`;
      await raw.startIdle(idleId);
      const rawExecs = [];
      try {
        for (let index = 0; index < 30; index++) rawExecs.push((await timed(() => raw.execTrue(idleId))).ms);
      } finally {
        await raw.remove(idleId);
      }
      const box = await rt.sandboxes.create({ runtime });
      created.push(box);
      for (let index = 0; index < 10; index++) await box.exec('true');
      const execs = [];
      for (let index = 0; index < 200; index++) execs.push((await timed(() => box.exec('true'))).ms);
      rows.push({
        group: runtime,
        name: 'raw exec of true',
        median: median(rawExecs),
        p95: percentile(rawExecs, 0.95),
      });
      rows.push({
        group: runtime,
        name: "SDK exec('true')",
        median: median(execs),
        p95: percentile(execs, 0.95),
        ratio: median(execs) / median(rawExecs),
        goal: { ms: 10 },
      });

      // Throughput: 10 callers for the run's duration.
      let done = 0;
      const until = performance.now() + Math.min(durationMs, 5000);
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (performance.now() < until) {
            await box.exec('true');
            done++;
          }
        }),
      );
      rows.push({
        group: runtime,
        name: "exec('true') x10 callers",
        perSecond: done / (Math.min(durationMs, 5000) / 1000),
      });
      await box.destroy();
    }

    // Syscall-heavy work: the same commands in a `base` sandbox per driver and natively (chroot).
    for (const runtime of ['gvisor', 'container']) {
      const box = await rt.sandboxes.create({ runtime, template: 'base' });
      created.push(box);
      const rootfsPath = join(dataDir, 'sandboxes', runtime, box.id, 'rootfs');
      for (const [name, command] of workloads) {
        const inside = [];
        const native = [];
        for (let index = 0; index < Math.max(2, rounds); index++) {
          const result = await timed(() => box.exec(command, { timeout: 600_000 }));
          if (result.value.exitCode !== 0) throw new Error(`${name} failed in ${runtime}: ${result.value.stderr}`);
          inside.push(result.ms);
          const started = performance.now();
          const nativeRun = spawnSync('/usr/sbin/chroot', [rootfsPath, '/bin/sh', '-c', command], {
            env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root' },
          });
          if (nativeRun.status !== 0)
            throw new Error(`${name} failed natively: ${nativeRun.error ?? nativeRun.stderr}`);
          native.push(performance.now() - started);
        }
        rows.push({
          group: `${runtime} workload`,
          name,
          median: median(inside),
          p95: Math.max(...inside),
          ratio: median(inside) / median(native),
          native: median(native),
        });
      }
      await box.destroy();
    }
  } finally {
    for (const box of created) await box.destroy().catch(() => {});
    await child.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export const meta = {
  name: 'sandbox',
  title: 'Sandboxes through the SDK vs the raw runtime (ms; ratios against the baseline in this run)',
};

export function report(rows) {
  const lines = [
    `${'group'.padEnd(20)}${'target'.padEnd(28)}${'median ms'.padStart(11)}${'p95 ms'.padStart(9)}${'x base'.padStart(9)}${'  other'}`,
  ];
  for (const row of rows) {
    if (row.perSecond !== undefined) {
      lines.push(`${row.group.padEnd(20)}${row.name.padEnd(28)}${`${row.perSecond.toFixed(0)}/s`.padStart(11)}`);
      continue;
    }
    lines.push(
      `${row.group.padEnd(20)}${row.name.padEnd(28)}${row.median.toFixed(1).padStart(11)}${row.p95.toFixed(1).padStart(9)}` +
        `${(row.ratio === undefined ? '' : row.ratio.toFixed(2)).padStart(9)}` +
        `${row.native === undefined ? '' : `  native ${row.native.toFixed(1)} ms`}`,
    );
  }
  const summary = [];
  for (const row of rows) {
    if (!row.goal) continue;
    const parts = [];
    if (row.goal.ratio !== undefined)
      parts.push(
        `${row.ratio.toFixed(2)}x raw (goal <= ${row.goal.ratio}x: ${row.ratio <= row.goal.ratio ? 'met' : 'missed'})`,
      );
    else parts.push(`${row.ratio.toFixed(2)}x the raw runtime's exec`);
    parts.push(
      `median ${row.median.toFixed(1)} ms (goal < ${row.goal.ms} ms: ${row.median < row.goal.ms ? 'met' : 'missed'})`,
    );
    summary.push(`sandbox (${row.group}, ${row.name}): ${parts.join(', ')}`);
  }
  return { lines, summary };
}
