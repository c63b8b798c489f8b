// What the sandbox benchmarks share: the runtime and root filesystem the raw baselines run on, a scratch
// directory, timing, and the host pid of a crun sandbox (to measure from inside its network namespace).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaseRootfs, hostTools, runCommand } from '@runtools/runtime';

export const repoDir = new URL('../..', import.meta.url).pathname;

/** The host's runtime tools, the base root filesystem (built once per checkout) and a scratch dir `name`. */
export async function sandboxBench(name) {
  const tools = hostTools();
  if (!tools.debootstrap || !tools.daemon) throw new Error('the sandbox runtime is not installed: run ./dev setup');
  const { path: rootfs } = await ensureBaseRootfs({
    cacheDir: join(repoDir, '.runtools-test', 'rootfs'),
    debootstrap: tools.debootstrap,
  });
  const work = join(repoDir, '.runtools-test', `${name}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  return { tools, rootfs, work };
}

/** How long `fn` took in ms, and what it returned. */
export async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** The host pid of a crun sandbox's first process, from the platform's crun state under `dataDir`. */
export async function crunSandboxPid(dataDir, sandboxId) {
  const state = await runCommand('crun', [
    '--root',
    join(dataDir, 'sandboxes', 'container', '.crun'),
    'state',
    sandboxId,
  ]);
  if (state.exitCode !== 0) throw new Error(`crun state failed: ${state.stderr}`);
  return JSON.parse(state.stdout.toString()).pid;
}
