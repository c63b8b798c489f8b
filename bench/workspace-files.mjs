// Workspace file API throughput through the SDK (streamed upload and download over loopback HTTP) against a
// plain copy of the same file on the same disk (`cp`), in one run.

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';
import { timed } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const fileBytes = 256 * 1024 * 1024;

export async function run({ rounds }) {
  // In the system temp dir, where the platform server's data dir is too: the same disk for both.
  const work = mkdtempSync(join(tmpdir(), 'runtools-bench-files-'));
  const source = join(work, 'source.bin');
  const chunk = randomBytes(1024 * 1024);
  writeFileSync(source, Buffer.concat(Array.from({ length: fileBytes / chunk.length }, () => chunk)));
  const child = startChild(here('./lib/platform-server.mjs'));
  const samples = { copy: [], upload: [], download: [] };
  try {
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 10 * 60_000 });
    const workspace = await rt.workspaces.create({ name: 'bench' });
    const files = rt.workspaces.files(workspace.id);
    for (let round = 0; round < Math.max(3, rounds); round++) {
      const copy = join(work, `copy-${round}.bin`);
      const copied = await timed(() => runCommand('cp', [source, copy]));
      if (copied.value.exitCode !== 0) throw new Error(`cp failed: ${copied.value.stderr}`);
      samples.copy.push(copied.ms);
      rmSync(copy);
      const upload = () =>
        files.upload(`/round-${round}.bin`, Readable.toWeb(createReadStream(source, { highWaterMark: 1024 * 1024 })));
      samples.upload.push((await timed(upload)).ms);
      const target = join(work, `download-${round}.bin`);
      const download = async () =>
        pipeline(Readable.fromWeb(await files.downloadStream(`/round-${round}.bin`)), createWriteStream(target));
      samples.download.push((await timed(download)).ms);
      if (statSync(target).size !== fileBytes) throw new Error('the download is not the whole file');
      rmSync(target);
      await files.remove(`/round-${round}.bin`);
    }
  } finally {
    await child.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rate = (ms) => fileBytes / 1024 / 1024 / (ms / 1000);
  const copy = rate(median(samples.copy));
  return [
    { name: 'cp on the same disk', rate: copy },
    { name: 'SDK upload (streamed)', rate: rate(median(samples.upload)), ratio: rate(median(samples.upload)) / copy },
    {
      name: 'SDK download (streamed)',
      rate: rate(median(samples.download)),
      ratio: rate(median(samples.download)) / copy,
    },
  ];
}

export const meta = {
  name: 'workspace-files',
  title: 'workspace file API throughput for a 256 MiB file vs cp on the same disk (MiB/s)',
};

export function report(rows) {
  const lines = [
    `${'target'.padEnd(26)}${'MiB/s'.padStart(9)}${'x cp'.padStart(7)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(26)}${row.rate.toFixed(0).padStart(9)}${(row.ratio === undefined ? '' : row.ratio.toFixed(2)).padStart(7)}`,
    ),
  ];
  const [copy, upload, download] = rows;
  const summary = [
    `workspace-files: upload ${upload.rate.toFixed(0)} MiB/s (${upload.ratio.toFixed(2)}x cp), download ` +
      `${download.rate.toFixed(0)} MiB/s (${download.ratio.toFixed(2)}x cp; cp ${copy.rate.toFixed(0)} MiB/s)`,
  ];
  return { lines, summary };
}
