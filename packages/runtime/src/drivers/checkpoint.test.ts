import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { availableDrivers } from '../doctor.js';
import type { GvisorDriver } from './gvisor/gvisor-driver.js';

const stateDir = join(testRuntimeDir, `checkpoint-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);

describe('gvisor checkpoint and restore (the base of pause to disk, snapshots and branch)', () => {
  let driver: GvisorDriver;
  let id: string;
  const count = () => Number(readFileSync(join(driver.rootfsPath(id), 'root/count'), 'utf8').trim() || 0);

  beforeAll(async () => {
    const found = drivers.gvisor as GvisorDriver | undefined;
    if (!found) throw new Error(`the gvisor driver is not available here: ${missing.gvisor}`);
    driver = found;
    id = `k-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id,
      layers: [await testBaseRootfs()],
      hostname: 'checkpoint',
      env: {},
      limits: { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 },
    });
    // A counter whose value lives in the shell's memory: it only goes on from where it was if memory survives.
    await driver.channel(id).spawn({
      argv: ['/bin/sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done'],
    });
  }, 15 * 60_000);

  afterAll(async () => {
    await driver?.destroy(id).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('takes a snapshot of a running sandbox and leaves it running, channel and all', async () => {
    await expect.poll(count).toBeGreaterThan(3);
    await driver.checkpoint(id, join(stateDir, 'snapshot'), { leaveRunning: true });
    const after = count();
    await expect.poll(count).toBeGreaterThan(after);
    expect((await driver.exec(id, { command: ['echo', 'still here'] })).stdout.toString()).toBe('still here\n');
  });

  it('stops a sandbox into an image and restores it with its processes where they were', async () => {
    await driver.checkpoint(id, join(stateDir, 'image'));
    const frozen = count();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(count()).toBe(frozen);
    await driver.restore(id, join(stateDir, 'image'));
    await expect.poll(count).toBeGreaterThan(frozen);
    // Went on from where it was rather than starting again at 1.
    expect(count()).toBeLessThan(frozen + 40);
    expect(count()).toBeGreaterThan(frozen);
    expect((await driver.exec(id, { command: ['cat', '/root/count'] })).exitCode).toBe(0);
  });
});
