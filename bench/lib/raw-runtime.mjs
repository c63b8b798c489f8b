// The raw runtime, as a baseline: `runsc`/`crun` driven directly on the same read-only root filesystem, with
// the flags the platform's drivers use, in the same private mount namespace.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateCgroupNamespace, runCommand, writeBundleConfig } from '@runtools/runtime';

const limits = { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 };

export function rawRuntime(driverName, tools, workDir, rootfs) {
  const state = join(workDir, `.state-${driverName}`);
  const runtime =
    driverName === 'gvisor'
      ? [tools.runsc, '--root', state, '--platform=systrap', '--network=none', '--overlay2=none']
      : [tools.crun, '--root', state, '--cgroup-manager=cgroupfs'];
  const [program, ...prefix] = privateCgroupNamespace(tools.unshare);
  const call = (args) => runCommand(program, [...prefix, ...runtime, ...args]);

  /** A bundle whose process is `args`, over the read-only rootfs. */
  function bundle(name, args) {
    const dir = join(workDir, `${driverName}-${name}`);
    const socketDir = join(dir, 'sock');
    const controlDir = join(dir, 'ctl');
    mkdirSync(socketDir, { recursive: true });
    mkdirSync(controlDir, { recursive: true });
    writeBundleConfig({
      bundleDir: dir,
      rootfs,
      hostname: 'raw',
      env: {},
      limits,
      cgroupsPath: `/runtools-bench/${driverName}-${name}`,
      pidsLimit: 4096,
      daemonDir: tools.daemon ? join(tools.daemon, '..') : dir,
      socketDir,
      controlDir,
      seccomp: driverName === 'crun',
    });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.process.args = args;
    config.root.readonly = true;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  }

  return {
    /** `run` of /bin/true: create, start, exit, delete, as one command. */
    runTrue(id) {
      return call(['run', '--bundle', bundle('true', ['/bin/true']), id]);
    },
    /** A detached container that only waits, for `exec` baselines. */
    async startIdle(id) {
      const result = await call(['run', '--detach', '--bundle', bundle('idle', ['/bin/sleep', 'infinity']), id]);
      if (result.exitCode !== 0) throw new Error(`raw ${driverName} run failed: ${result.stderr}`);
    },
    /** A detached container running `args`. */
    async startWith(id, name, args) {
      const result = await call(['run', '--detach', '--bundle', bundle(name, args), id]);
      if (result.exitCode !== 0) throw new Error(`raw ${driverName} run failed: ${result.stderr}`);
    },
    /** gVisor only: checkpoint into `imageDir` and delete the stopped container; `restoreFrom` starts it again. */
    async checkpoint(id, imageDir) {
      const result = await call(['checkpoint', '--image-path', imageDir, id]);
      if (result.exitCode !== 0) throw new Error(`raw checkpoint failed: ${result.stderr}`);
      await call(['delete', '--force', id]);
    },
    /** gVisor only: checkpoint into `imageDir` and keep running (a snapshot). */
    async snapshot(id, imageDir) {
      const result = await call(['checkpoint', '--image-path', imageDir, '--leave-running', id]);
      if (result.exitCode !== 0) throw new Error(`raw checkpoint failed: ${result.stderr}`);
    },
    /** Restores an image into container `id` with the bundle `name` (made for `args` when they are given). */
    async restoreFrom(id, name, imageDir, args) {
      const dir = args ? bundle(name, args) : join(workDir, `${driverName}-${name}`);
      const result = await call(['restore', '--detach', '--image-path', imageDir, '--bundle', dir, id]);
      if (result.exitCode !== 0) throw new Error(`raw restore failed: ${result.stderr}`);
    },
    execTrue(id) {
      return call(['exec', id, '/bin/true']);
    },
    async remove(id) {
      await call(['kill', id, 'KILL']);
      await call(['delete', '--force', id]);
    },
  };
}
