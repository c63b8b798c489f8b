import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs, testRuntimeDir } from '../../../test/support/rootfs.js';

const run = promisify(execFile);
const bin = new URL('../bin/runtools.js', import.meta.url).pathname;

interface Report {
  driver: string;
  ok: boolean;
  reason?: string;
  createMs?: number;
  execMs?: number;
}

async function doctor(dataDir: string, rootfsDir: string): Promise<{ code: number; reports: Report[] }> {
  const env = { PATH: process.env.PATH ?? '', HOME: dataDir, RUNTOOLS_ROOTFS_DIR: rootfsDir };
  try {
    const { stdout } = await run(process.execPath, [bin, 'doctor', '--json', '--data-dir', dataDir], { env });
    return { code: 0, reports: JSON.parse(stdout) as Report[] };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, reports: JSON.parse(failed.stdout) as Report[] };
  }
}

describe('runtools doctor', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-doctor-'));
  beforeAll(() => testBaseRootfs(), 15 * 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs a real sandbox on each driver and reports its measured cost', async () => {
    const { code, reports } = await doctor(dataDir, join(testRuntimeDir, 'rootfs'));
    expect(code).toBe(0);
    expect(reports.map((report) => [report.driver, report.ok])).toEqual([
      ['gvisor', true],
      ['container', true],
    ]);
    for (const report of reports) {
      expect(report.createMs).toBeGreaterThan(0);
      expect(report.execMs).toBeGreaterThan(0);
    }
  });

  it('says why no driver works when the base root filesystem is missing, and exits 1', async () => {
    const { code, reports } = await doctor(dataDir, join(dataDir, 'no-rootfs-here'));
    expect(code).toBe(1);
    expect(reports.every((report) => !report.ok && /not built yet/.test(report.reason ?? ''))).toBe(true);
  });
});
