import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../../test/support/driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { availableDrivers } from '../doctor.js';
import type { GvisorDriver } from './gvisor/gvisor-driver.js';

const stateDir = join(testRuntimeDir, `checkpoint-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);
const counter = 'i=0; while true; do i=$((i+1)); echo $i > /root/count; sleep 0.05; done';

describe('gvisor checkpoint and restore (the base of pause to disk, snapshots and branch)', () => {
  let tracked: TrackedDriver<GvisorDriver> | undefined;
  let driver: GvisorDriver;
  const count = (id: string) => Number(readFileSync(join(driver.rootfsPath(id), 'root/count'), 'utf8').trim() || 0);

  /** A sandbox running a counter whose value lives in the shell's memory: it survives only if memory does. */
  async function counting(): Promise<string> {
    const id = `k-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id,
      layers: [await testBaseRootfs()],
      hostname: 'checkpoint',
      env: {},
      limits: { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 },
    });
    await driver.channel(id).spawn({ argv: ['/bin/sh', '-c', counter] });
    await expect.poll(() => count(id)).toBeGreaterThan(3);
    return id;
  }

  beforeAll(async () => {
    const found = drivers.gvisor as GvisorDriver | undefined;
    if (!found) throw new Error(`the gvisor driver is not available here: ${missing.gvisor}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    await testBaseRootfs();
  }, 15 * 60_000);

  afterAll(async () => {
    try {
      await tracked?.destroyAll();
    } finally {
      await removeDriverState(stateDir, drivers);
    }
  }, 120_000);

  it('takes a snapshot of a running sandbox and leaves it running, channel and all', async () => {
    const id = await counting();
    expect(await driver.snapshot(id, join(stateDir, `${id}-snapshot`))).toEqual({ memory: true });
    const after = count(id);
    await expect.poll(() => count(id)).toBeGreaterThan(after);
    expect((await driver.exec(id, { command: ['echo', 'still here'] })).stdout.toString()).toBe('still here\n');
  });

  it('pauses a sandbox to disk and resumes it with its processes where they were', async () => {
    const id = await counting();
    await driver.pauseToDisk(id);
    expect([driver.pausedToDisk(id), await driver.state(id)]).toEqual([true, 'missing']);
    const frozen = count(id);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(count(id)).toBe(frozen);
    await driver.resumeFromDisk(id);
    await expect.poll(() => count(id)).toBeGreaterThan(frozen);
    // Went on from where it was rather than starting again at 1.
    expect(count(id)).toBeLessThan(frozen + 40);
    expect((await driver.exec(id, { command: ['cat', '/root/count'] })).exitCode).toBe(0);
  });

  // The daemon's marker is beside its socket; the host's note in the sandbox's own directory.
  const socketFile = (id: string, name: string) =>
    join((driver as unknown as { socketDir(id: string): string }).socketDir(id), name);
  const sandboxFile = (id: string, name: string) =>
    join((driver as unknown as { sandboxDir(id: string): string }).sandboxDir(id), name);

  it('recovers a pause whose caller died with its runtime pause still running: waits for it, then thaws', async () => {
    const id = await counting();
    // What a control plane killed 60 ms into a pause leaves: the daemon quiesced, and `runsc pause` going on.
    await driver.channel(id).call({ op: 'quiesce' });
    await expect.poll(() => existsSync(socketFile(id, 'quiesced'))).toBe(true);
    const pausing = driver.runtimeCall(id, ['pause', id]);
    const restarted = availableDrivers(stateDir).drivers.gvisor as GvisorDriver;
    expect(await restarted.recover(id)).toBe('running');
    expect((await pausing).exitCode).toBe(0);
    expect(await restarted.state(id)).toBe('running');
    const now = Number((await restarted.exec(id, { command: ['cat', '/root/count'] })).stdout.toString());
    await expect.poll(() => count(id)).toBeGreaterThan(now);
  });

  it('wakes a daemon that a dead caller asked to quiesce even when it reads the request only after recovery', async () => {
    const id = await counting();
    // A control plane killed just after sending the request: its note is there, the daemon has not acted yet
    // (it reads the request late here, as it can on a loaded machine).
    writeFileSync(sandboxFile(id, 'quiesce-asked'), '');
    const restarted = availableDrivers(stateDir).drivers.gvisor as GvisorDriver;
    const recovering = restarted.recover(id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await driver.channel(id).call({ op: 'quiesce' });
    expect(await recovering).toBe('running');
    expect(existsSync(sandboxFile(id, 'quiesce-asked'))).toBe(false);
    const now = Number((await restarted.exec(id, { command: ['cat', '/root/count'] })).stdout.toString());
    await expect.poll(() => count(id)).toBeGreaterThan(now);
  });

  it.each([0, 60, 200])(
    'recovers a pause whose caller was killed %i ms in: saved whole, or running as before',
    async (delay) => {
      const id = await counting();
      // The pause runs in a process of its own, killed with SIGKILL part way (runsc's own calls go on).
      // (The built driver: a plain Node process cannot load the TypeScript sources.)
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { availableDrivers } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
           const { gvisor } = availableDrivers(${JSON.stringify(stateDir)}).drivers;
           process.stdout.write('pausing\\n');
           await gvisor.pauseToDisk(${JSON.stringify(id)});`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      await new Promise((resolve) => child.stdout.once('data', resolve));
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      const exit = await exited;
      // It was pausing when killed (or had just finished), never failing on its own.
      expect(exit.signal === 'SIGKILL' || exit.code === 0, stderr).toBe(true);
      // A new control plane: a driver of its own, no connection to the sandbox yet.
      const restarted = availableDrivers(stateDir).drivers.gvisor as GvisorDriver;
      const state = await restarted.recover(id);
      expect(['saved', 'running']).toContain(state);
      expect(existsSync(join(stateDir, 'gvisor', id, 'checkpoint.partial'))).toBe(false);
      if (state === 'saved') await restarted.resumeFromDisk(id);
      const now = Number((await restarted.exec(id, { command: ['cat', '/root/count'] })).stdout.toString());
      await expect.poll(() => count(id)).toBeGreaterThan(now);
    },
  );
});
