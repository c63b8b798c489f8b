import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverName, SandboxDriver } from './driver.js';
import { ContainerDriver } from './drivers/container/container-driver.js';
import { GvisorDriver } from './drivers/gvisor/gvisor-driver.js';
import { type HostTools, hostTools } from './host.js';

export interface DriverReport {
  driver: DriverName;
  ok: boolean;
  /** Why the driver cannot run here, when it cannot. */
  reason?: string;
  /** Measured here: create and start a sandbox, first exec, then `exec true` (ms). */
  createMs?: number;
  execMs?: number;
  note: string;
}

const notes: Record<DriverName, string> = {
  gvisor:
    'user-space kernel (runsc, systrap): the secure default; syscall-heavy work costs 10-20x without KVM (git, find, npm)',
  container: 'crun with namespaces and cgroups: near-native speed, shares the host kernel; for trusted, I/O-heavy work',
};

/** Builds the drivers this host can run, and says why not for the others. */
export function availableDrivers(stateDir: string, tools: HostTools = hostTools()) {
  const drivers: Partial<Record<DriverName, SandboxDriver>> = {};
  const missing: Partial<Record<DriverName, string>> = {};
  const isRoot = process.getuid?.() === 0;
  const base =
    tools.unshare && tools.mount && tools.daemon && tools.ip
      ? { unshare: tools.unshare, mount: tools.mount, daemon: tools.daemon, ip: tools.ip, nft: tools.nft }
      : undefined;
  if (!isRoot) {
    missing.gvisor = missing.container = 'the sandbox runtime needs root (namespaces, overlay mounts, cgroups)';
  } else if (!tools.daemon) {
    missing.gvisor = missing.container =
      'the in-sandbox daemon is not built: run scripts/install-runtime.sh (./dev setup does; it needs Go from apt)';
  } else if (!base) {
    missing.gvisor = missing.container = 'unshare and mount (util-linux) or ip (iproute2) are missing';
  } else {
    if (tools.runsc) drivers.gvisor = new GvisorDriver(join(stateDir, 'gvisor'), base, tools.runsc);
    else missing.gvisor = 'runsc 20240729 is not installed: run scripts/install-runtime.sh (./dev setup does)';
    if (tools.crun) drivers.container = new ContainerDriver(join(stateDir, 'container'), base, tools.crun);
    else missing.container = 'crun is not installed: run scripts/install-runtime.sh (apt-get install crun)';
  }
  return { drivers, missing };
}

/** Tries each driver for real: a sandbox from the base rootfs, an exec, a destroy, with timings. */
export async function doctor(options: { stateDir: string; baseRootfs: string | undefined }): Promise<DriverReport[]> {
  const { drivers, missing } = availableDrivers(options.stateDir);
  const reports: DriverReport[] = [];
  for (const name of ['gvisor', 'container'] as const) {
    const driver = drivers[name];
    if (!driver) {
      reports.push({ driver: name, ok: false, reason: missing[name] ?? 'unavailable', note: notes[name] });
      continue;
    }
    if (!options.baseRootfs || !existsSync(options.baseRootfs)) {
      reports.push({ driver: name, ok: false, reason: 'the base root filesystem is not built yet', note: notes[name] });
      continue;
    }
    const id = `doctor-${randomBytes(4).toString('hex')}`;
    try {
      const started = performance.now();
      await driver.create({
        id,
        layers: [options.baseRootfs],
        hostname: 'doctor',
        env: {},
        limits: { vcpus: 1, memoryBytes: 256 * 1024 * 1024, maxProcesses: 256 },
      });
      const first = await driver.exec(id, { command: ['/bin/true'] });
      const createMs = performance.now() - started;
      const execStarted = performance.now();
      const second = await driver.exec(id, { command: ['/bin/true'] });
      const execMs = performance.now() - execStarted;
      if (first.exitCode !== 0 || second.exitCode !== 0)
        throw new Error(first.stderr.toString() || second.stderr.toString());
      reports.push({ driver: name, ok: true, createMs, execMs, note: notes[name] });
    } catch (error) {
      reports.push({ driver: name, ok: false, reason: (error as Error).message, note: notes[name] });
    } finally {
      await driver.destroy(id).catch(() => {});
    }
  }
  return reports;
}
