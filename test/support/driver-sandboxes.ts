import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverName, DriverSandboxSpec, SandboxDriver } from '@runtools/runtime';

const cgroupRoots = ['/sys/fs/cgroup/pids/runtools', '/sys/fs/cgroup/runtools'];

/** The processes in a sandbox's cgroup (both drivers put a sandbox's processes in /runtools/<id>). */
export function sandboxProcesses(id: string): string[] {
  const pids = (dir: string): string[] => [
    ...readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean),
    ...readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap((entry) => pids(join(dir, entry.name))),
  ];
  for (const root of cgroupRoots) if (existsSync(join(root, id, 'cgroup.procs'))) return pids(join(root, id));
  return [];
}

/** Sandboxes of this test file that a destroy left running (a test file's modules are its own). */
const undestroyed = new Map<string, SandboxDriver>();

/** Destroys a sandbox and checks that it is gone: no processes left in its cgroup, no directory left. */
async function destroyAndCheck(driver: SandboxDriver, id: string, dir: string | undefined): Promise<string[]> {
  try {
    await driver.destroy(id);
  } catch (error) {
    undestroyed.set(id, driver);
    return [`${driver.name} sandbox ${id}: destroy failed: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const left = sandboxProcesses(id);
  if (left.length) problems.push(`${driver.name} sandbox ${id}: processes ${left.join(' ')} still run after destroy`);
  if (dir && existsSync(dir)) problems.push(`${driver.name} sandbox ${id}: ${dir} is still there after destroy`);
  if (problems.length) undestroyed.set(id, driver);
  else undestroyed.delete(id);
  return problems;
}

export interface TrackedDriver<T extends SandboxDriver> {
  /** The driver, with every sandbox created through it remembered and every call on it awaited by `destroyAll`. */
  driver: T;
  /**
   * Waits for every call still running on the driver (a test that timed out leaves its create, resume or
   * restore running after vitest moves on, and it would start a sandbox after its destroy), then destroys
   * every sandbox created through it. Throws, naming them, when one could not be destroyed.
   */
  destroyAll(): Promise<void>;
}

/**
 * For a runtime test block that makes sandboxes straight on a driver: call `destroyAll` in its afterAll, so
 * that what the block made is gone however its tests ended.
 */
export function trackDriver<T extends SandboxDriver>(driver: T): TrackedDriver<T> {
  const ids = new Set<string>();
  const running = new Set<Promise<unknown>>();
  // A proxy rather than a list each test appends to: an id is known from the moment its create starts (a create
  // that fails part way, or is still running, leaves a sandbox as surely as one that returned).
  const tracked = new Proxy(driver, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'create') ids.add((args[0] as DriverSandboxSpec).id);
        const result: unknown = value.apply(target, args);
        if (result instanceof Promise) {
          running.add(result);
          result.then(
            () => running.delete(result),
            () => running.delete(result),
          );
        }
        return result;
      };
    },
  });
  return {
    driver: tracked,
    async destroyAll() {
      while (running.size) await Promise.allSettled([...running]);
      const problems: string[] = [];
      for (const id of ids) problems.push(...(await destroyAndCheck(driver, id, undefined)));
      ids.clear();
      if (problems.length) throw new Error(`sandboxes outlived their tests:\n${problems.join('\n')}`);
    },
  };
}

/** Entries of a driver's state directory that are not sandboxes. */
const notSandboxes = new Set(['.runsc', '.crun', 'disk-images']);

/**
 * Removes a runtime test file's state directory, after destroying through its drivers any sandbox still in
 * it. A sandbox that cannot be destroyed keeps the directory (removing it would leave the sandbox running
 * with no state to stop it by) and fails the caller, naming it.
 */
export async function removeDriverState(
  stateDir: string,
  drivers: Partial<Record<DriverName, SandboxDriver>>,
): Promise<void> {
  const problems: string[] = [];
  const ours = new Set(Object.values(drivers));
  for (const driver of ours) {
    const dir = join(stateDir, driver.name);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || notSandboxes.has(entry.name)) continue;
      problems.push(...(await destroyAndCheck(driver, entry.name, join(dir, entry.name))));
    }
  }
  // One whose destroy removed its directory but not its processes: its runtime state is all that is left.
  for (const [id, driver] of undestroyed) {
    if (ours.has(driver) && sandboxProcesses(id).length) problems.push(`${driver.name} sandbox ${id} still runs`);
  }
  if (problems.length)
    throw new Error(`kept ${stateDir}: sandboxes in it outlived their tests:\n${problems.join('\n')}`);
  rmSync(stateDir, { recursive: true, force: true });
}
