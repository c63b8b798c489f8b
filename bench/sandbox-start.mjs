// Sandbox start: the platform's driver (overlay layer, bundle, detached start, first exec of `true`) against
// the raw runtime running `true` in the same root filesystem (`runsc run` / `crun run`), per driver, in
// alternating order. Needs root and the runtime (./dev setup); builds the base rootfs on first use.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  availableDrivers,
  ensureBaseRootfs,
  hostTools,
  privateCgroupNamespace,
  runCommand,
  writeBundleConfig,
} from '@runtools/runtime';
import { median } from './lib/load.mjs';

const repoDir = new URL('..', import.meta.url).pathname;
const limits = { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 };
const percentile = (values, q) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

/** The raw runtime: one `run` of `/bin/true` over the read-only base, in the same private mount namespace. */
function rawRun(driverName, tools, bundleDir, id) {
  const prefix = privateCgroupNamespace(tools.unshare);
  const runtime =
    driverName === 'gvisor'
      ? [tools.runsc, '--root', join(bundleDir, '.state'), '--platform=systrap', '--network=none', '--overlay2=none']
      : [tools.crun, '--root', join(bundleDir, '.state'), '--cgroup-manager=cgroupfs'];
  const [program, ...args] = [...prefix, ...runtime, 'run', '--bundle', bundleDir, id];
  return runCommand(program, args);
}

export async function run({ rounds }) {
  const tools = hostTools();
  if (!tools.debootstrap) throw new Error('the sandbox runtime is not installed: run ./dev setup');
  const work = join(repoDir, '.runtools-test', `bench-${process.pid}`);
  const { path: baseRootfs } = await ensureBaseRootfs({
    cacheDir: join(repoDir, '.runtools-test', 'rootfs'),
    debootstrap: tools.debootstrap,
  });
  const { drivers, missing } = availableDrivers(join(work, 'state'));
  const iterations = Math.max(5, rounds * 4);
  const rows = [];
  try {
    for (const name of ['gvisor', 'container']) {
      const driver = drivers[name];
      if (!driver) throw new Error(`${name}: ${missing[name]}`);
      const bundleDir = join(work, `raw-${name}`);
      mkdirSync(bundleDir, { recursive: true });
      writeBundleConfig({
        bundleDir,
        rootfs: baseRootfs,
        hostname: 'raw',
        env: {},
        limits,
        cgroupsPath: `/runtools-bench/${name}`,
      });
      // The raw run executes /bin/true as the container's own process, read-only.
      const config = JSON.parse((await import('node:fs')).readFileSync(join(bundleDir, 'config.json'), 'utf8'));
      config.process.args = ['/bin/true'];
      config.root.readonly = true;
      writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(config));
      const raw = [];
      const platform = [];
      const execs = [];
      for (let index = 0; index < iterations; index++) {
        const rawId = `raw-${randomBytes(4).toString('hex')}`;
        let started = performance.now();
        const result = await rawRun(name, tools, bundleDir, rawId);
        raw.push(performance.now() - started);
        if (result.exitCode !== 0) throw new Error(`raw ${name} run failed: ${result.stderr}`);
        const id = `bench-${randomBytes(4).toString('hex')}`;
        started = performance.now();
        await driver.create({ id, baseRootfs, hostname: 'bench', env: {}, limits });
        const first = await driver.exec(id, { command: ['/bin/true'] });
        platform.push(performance.now() - started);
        started = performance.now();
        await driver.exec(id, { command: ['/bin/true'] });
        execs.push(performance.now() - started);
        if (first.exitCode !== 0) throw new Error(`${name} exec failed: ${first.stderr}`);
        await driver.destroy(id);
      }
      rows.push({ name: `${name}: raw run of true`, median: median(raw), p95: percentile(raw, 0.95), baseline: true });
      rows.push({
        name: `${name}: create + first exec`,
        median: median(platform),
        p95: percentile(platform, 0.95),
        ratio: median(platform) / median(raw),
      });
      rows.push({ name: `${name}: exec true (runtime exec)`, median: median(execs), p95: percentile(execs, 0.95) });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export const meta = {
  name: 'sandbox-start',
  title: 'Sandbox create + first exec through the driver vs the raw runtime running true (ms)',
  goal: { ratio: 1.3, text: 'create + first exec <= 1.3x the raw runtime' },
};

export function report(rows) {
  const lines = [
    `${'target'.padEnd(36)}${'median ms'.padStart(11)}${'p95 ms'.padStart(9)}${'x raw'.padStart(8)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(36)}${row.median.toFixed(1).padStart(11)}${row.p95.toFixed(1).padStart(9)}` +
        `${(row.ratio === undefined ? '' : row.ratio.toFixed(2)).padStart(8)}`,
    ),
  ];
  const summary = rows
    .filter((row) => row.ratio !== undefined)
    .map(
      (row) =>
        `${meta.name} (${row.name}): ${row.ratio.toFixed(2)}x of the raw runtime, median ${row.median.toFixed(0)} ms ` +
        `(goal: ${meta.goal.text}: ${row.ratio <= meta.goal.ratio ? 'met' : 'missed'})`,
    );
  return { lines, summary };
}
