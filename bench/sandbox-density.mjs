// Density: idle sandboxes created one after another through the SDK, per driver, until create latency doubles
// against the first ten or the target count is reached (RUNTOOLS_BENCH_DENSITY, default 200); memory per idle
// sandbox from the host's MemAvailable. Every sandbox is destroyed at the end.
import { readFileSync } from 'node:fs';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;

function memAvailableBytes() {
  const match = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

export async function run() {
  const target = Number(process.env.RUNTOOLS_BENCH_DENSITY ?? 200);
  const child = startChild(here('./lib/platform-server.mjs'));
  const rows = [];
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 30 * 60_000 });
    for (const runtime of ['container', 'gvisor']) {
      const boxes = [];
      const latencies = [];
      const memoryBefore = memAvailableBytes();
      let stoppedBecause = `reached ${target}`;
      try {
        while (boxes.length < target) {
          const started = performance.now();
          const box = await rt.sandboxes.create({ runtime });
          await box.exec('true');
          latencies.push(performance.now() - started);
          boxes.push(box);
          if (latencies.length >= 20) {
            const first = median(latencies.slice(0, 10));
            const recent = median(latencies.slice(-10));
            if (recent > 2 * first) {
              stoppedBecause = `create latency doubled (${first.toFixed(0)} → ${recent.toFixed(0)} ms)`;
              break;
            }
          }
        }
      } catch (error) {
        stoppedBecause = `create failed: ${error.message}`;
      }
      // Let the last ones settle before reading memory.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const perSandbox = (memoryBefore - memAvailableBytes()) / Math.max(1, boxes.length);
      rows.push({
        runtime,
        count: boxes.length,
        first: median(latencies.slice(0, 10)),
        last: median(latencies.slice(-10)),
        perSandboxMiB: perSandbox / 1024 / 1024,
        stoppedBecause,
      });
      for (let index = 0; index < boxes.length; index += 8)
        await Promise.all(boxes.slice(index, index + 8).map((box) => box.destroy().catch(() => {})));
    }
  } finally {
    await child.stop();
  }
  return rows;
}

export const meta = {
  name: 'sandbox-density',
  title: 'Idle sandboxes on this machine before create latency doubles (goal >= 200), memory per sandbox',
};

export function report(rows) {
  const lines = [
    `${'runtime'.padEnd(12)}${'sandboxes'.padStart(10)}${'first 10 ms'.padStart(13)}${'last 10 ms'.padStart(12)}${'MiB each'.padStart(10)}  stopped`,
    ...rows.map(
      (row) =>
        `${row.runtime.padEnd(12)}${String(row.count).padStart(10)}${row.first.toFixed(0).padStart(13)}` +
        `${row.last.toFixed(0).padStart(12)}${row.perSandboxMiB.toFixed(1).padStart(10)}  ${row.stoppedBecause}`,
    ),
  ];
  const summary = rows.map(
    (row) =>
      `sandbox-density (${row.runtime}): ${row.count} idle sandboxes, create ${row.first.toFixed(0)} → ${row.last.toFixed(0)} ms, ` +
      `${row.perSandboxMiB.toFixed(1)} MiB each (goal >= 200: ${row.count >= 200 ? 'met' : 'missed'})`,
  );
  return { lines, summary };
}
