import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { writeBundleConfig } from '../bundle.js';
import { DaemonChannel, exitCodeOf } from '../channel.js';
import { CommandError, mustRun, runCommand } from '../command.js';
import type {
  DriverName,
  DriverSandboxSpec,
  ExecRequest,
  ExecResult,
  RuntimeState,
  SandboxDriver,
  SandboxStats,
  SnapshotCapture,
} from '../driver.js';
import { privateCgroupNamespace } from '../host.js';
import { hostNameservers, NetworkManager, type SandboxNetwork } from '../network.js';

const idPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const channelRoot = '/run/runtools';

/**
 * What both drivers share: a per-sandbox overlay (the base rootfs read-only below, the sandbox's own layer
 * above), one OCI bundle, and every runtime call made inside a private mount namespace (see host.ts).
 * Subclasses say how their runtime starts, execs into and removes a container.
 */
export abstract class OciDriver implements SandboxDriver {
  abstract readonly name: DriverName;

  /** Tells this driver's sockets apart from another state directory's under /run/runtools. */
  private readonly stateKey: string;

  protected readonly network: NetworkManager;

  constructor(
    protected readonly stateDir: string,
    protected readonly tools: { unshare: string; mount: string; daemon: string; ip: string; nft: string | undefined },
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.network = new NetworkManager({ ip: tools.ip, nft: tools.nft });
    this.stateKey = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12);
  }

  /** Whether the sandbox's system calls reach the host's kernel (then a seccomp filter guards it). */
  protected abstract readonly sharesHostKernel: boolean;

  /** The runtime binary and the global flags it needs on every call. */
  protected abstract runtimeArgs(id: string): string[];

  /** The sandbox's network, when it has internet egress (recorded in its directory). */
  protected sandboxNetwork(id: string): SandboxNetwork | undefined {
    const path = join(this.sandboxDir(id), 'network.json');
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SandboxNetwork) : undefined;
  }

  /** The prefix every runtime call of this sandbox runs under (see host.ts). */
  protected namespacePrefix(_id: string): string[] {
    return privateCgroupNamespace(this.tools.unshare);
  }

  // crun and runsc take the same subcommands and flags for these.
  private runArgs(id: string, bundleDir: string): string[] {
    return ['run', '--detach', '--bundle', bundleDir, id];
  }

  private destroyCalls(id: string): string[][] {
    return [
      ['kill', id, 'KILL'],
      ['delete', '--force', id],
    ];
  }
  /** The cgroup pids.max that enforces this driver's process limit. */
  protected abstract pidsLimit(maxProcesses: number): number;

  protected sandboxDir(id: string): string {
    if (!idPattern.test(id)) throw new Error(`invalid sandbox id ${id}`);
    return join(this.stateDir, id);
  }

  rootfsPath(id: string): string {
    return join(this.sandboxDir(id), 'rootfs');
  }

  /** One call of the runtime binary for a sandbox (`state`, `pause`, …) in the private mount namespace. */
  runtimeCall(id: string, args: string[]) {
    return this.runtime(id, args);
  }

  protected runtime(id: string, args: string[], options: Parameters<typeof runCommand>[2] = {}) {
    const [program, ...prefix] = this.namespacePrefix(id);
    return runCommand(program as string, [...prefix, ...this.runtimeArgs(id), ...args], options);
  }

  async create(spec: DriverSandboxSpec): Promise<void> {
    const dir = this.sandboxDir(spec.id);
    if (existsSync(dir)) throw new Error(`sandbox ${spec.id} already exists`);
    // With a disk limit, the sandbox's writable layer lives on an ext4 image of that size: writes past it
    // fail with ENOSPC inside the sandbox, and nothing else on the host fills up.
    const layerDir = spec.limits.diskBytes ? join(dir, 'disk') : dir;
    const upper = join(layerDir, 'upper');
    const work = join(layerDir, 'work');
    const rootfs = join(dir, 'rootfs');
    const bundle = join(dir, 'bundle');
    await this.releaseViews(spec.id);
    rmSync(this.channelDir(spec.id), { recursive: true, force: true });
    for (const path of [layerDir, rootfs, bundle]) mkdirSync(path, { recursive: true });
    mkdirSync(this.socketDir(spec.id), { recursive: true, mode: 0o700 });
    mkdirSync(this.controlDir(spec.id), { recursive: true, mode: 0o755 });
    // What the daemon says in its hello: the host talks to nothing on that socket that cannot say it.
    this.writeControl(spec.id, 'token', randomBytes(32).toString('hex'));
    try {
      if (spec.limits.diskBytes) {
        const image = join(dir, 'disk.img');
        await this.newDiskImage(spec.limits.diskBytes, image);
        await mustRun(this.tools.mount, ['-o', 'loop', image, layerDir]);
      }
      for (const path of [upper, work]) mkdirSync(path, { recursive: true });
      if (spec.snapshot) await copyLayer(join(spec.snapshot, 'layer'), upper);
      writeFileSync(
        join(dir, 'spec.json'),
        JSON.stringify({ layers: spec.layers, env: spec.env, workdir: spec.workdir } satisfies SnapshotSpec),
      );
      await this.mountRootfs(spec.id);
      let network: SandboxNetwork | undefined;
      const resolvConf = join(dir, 'resolv.conf');
      if (spec.internet) {
        network = await this.network.setup(`${this.name}/${spec.id}`);
        writeFileSync(join(dir, 'network.json'), JSON.stringify(network));
        // Its resolvers: the host's (the only DNS servers its rules let it reach). Bound read-only over the
        // sandbox's /etc/resolv.conf rather than written into its root, where a symlink in the layer (a
        // snapshot's, say) would lead the write anywhere on the host.
        const resolvers = hostNameservers();
        writeFileSync(
          resolvConf,
          resolvers.map((address) => `nameserver ${address}\n`).join('') || '# no resolver reachable\n',
        );
      }
      // Every read-only bind goes through a read-only view (see readOnlyView).
      const binds = [];
      for (const [index, bind] of (spec.mounts ?? []).entries()) {
        binds.push(
          bind.readOnly ? { ...bind, hostPath: await this.readOnlyView(spec.id, `m${index}`, bind.hostPath) } : bind,
        );
      }
      writeBundleConfig({
        bundleDir: bundle,
        seccomp: this.sharesHostKernel,
        ...(network ? { netnsPath: network.netnsPath } : {}),
        ...(binds.length ? { binds } : {}),
        rootfs,
        hostname: spec.hostname,
        env: spec.env,
        limits: spec.limits,
        cgroupsPath: `/runtools/${spec.id}`,
        pidsLimit: this.pidsLimit(spec.limits.maxProcesses),
        daemonDir: await this.readOnlyView(spec.id, 'bin', dirname(this.tools.daemon)),
        socketDir: this.socketDir(spec.id),
        controlDir: await this.readOnlyView(spec.id, 'ctl', this.controlDir(spec.id)),
        ...(network ? { resolvConf: await this.readOnlyView(spec.id, 'resolv.conf', resolvConf) } : {}),
        ...(spec.workdir ? { cwd: spec.workdir } : {}),
      });
      await this.boot(spec.id, spec.snapshot);
    } catch (error) {
      await this.destroy(spec.id).catch(() => {});
      throw error;
    }
  }

  /**
   * An empty ext4 file system of `bytes` at `image`, sparse: a copy of one made once per size (a mkfs costs
   * ~11 ms of each create, a sparse copy ~4; docs/decisions.md). A few sizes are kept (the default and the
   * sizes asked for first), in the host-only state dir; others are made afresh.
   */
  private async newDiskImage(bytes: number, image: string): Promise<void> {
    const makeAt = async (path: string) => {
      await mustRun('truncate', ['-s', String(bytes), path]);
      await mustRun('mkfs.ext4', ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'nodiscard', path]);
    };
    const kept = join(this.stateDir, 'disk-images');
    const made = join(kept, `${bytes}.img`);
    if (!existsSync(made)) {
      mkdirSync(kept, { recursive: true, mode: 0o700 });
      if (readdirSync(kept).length >= 8) return makeAt(image);
      const partial = `${made}.${randomBytes(6).toString('hex')}.partial`;
      try {
        await makeAt(partial);
        renameSync(partial, made);
      } finally {
        rmSync(partial, { force: true });
      }
    }
    await mustRun('cp', ['--sparse=always', made, image]);
  }

  /** Where the sandbox's writable layer is (on its disk image when it has a disk limit). */
  protected upperDir(id: string): string {
    const dir = this.sandboxDir(id);
    return existsSync(join(dir, 'disk.img')) ? join(dir, 'disk', 'upper') : join(dir, 'upper');
  }

  /** Mounts the sandbox's root: its writable layer over the template's layers. */
  private async mountRootfs(id: string): Promise<void> {
    const dir = this.sandboxDir(id);
    const { layers } = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as SnapshotSpec;
    // Named relative to the sandbox's directory (symlinks to the template layers, resolved by the kernel at
    // mount time): the mount options are what a crun sandbox reads in its /proc/self/mountinfo, and they
    // should not spell out the host's data directory and template cache.
    rmSync(join(dir, 'layers'), { recursive: true, force: true });
    mkdirSync(join(dir, 'layers'));
    for (const [index, layer] of layers.entries()) symlinkSync(layer, join(dir, 'layers', String(index)));
    const layerDir = relative(dir, dirname(this.upperDir(id))) || '.';
    await mustRun(
      this.tools.mount,
      [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${layers.map((_, index) => `layers/${index}`).join(':')},upperdir=${join(layerDir, 'upper')},workdir=${join(layerDir, 'work')}`,
        'rootfs',
      ],
      { cwd: dir },
    );
  }

  /**
   * Starts the sandbox's container from its bundle and waits for its daemon. From a snapshot, this runtime
   * starts its processes afresh (gVisor restores them, see its override).
   */
  async boot(id: string, _snapshot?: string): Promise<void> {
    const dir = this.sandboxDir(id);
    await this.start(id, join(dir, 'bundle'), join(dir, 'runtime.log'));
    await this.channel(id).ready(30_000);
  }

  /** Copies the writable layer with every process frozen, so that it is one moment's files. */
  async snapshot(id: string, target: string): Promise<SnapshotCapture> {
    const state = await this.state(id);
    // Frozen already, or stopped (paused to the filesystem): nothing changes its files while they are copied.
    const still = state === 'paused' || state === 'missing' || state === 'stopped';
    if (!still) await mustRunIn(this, ['pause', id]);
    try {
      await copyLayer(this.upperDir(id), join(target, 'layer'));
    } finally {
      if (!still) await mustRunIn(this, ['resume', id]);
    }
    this.saveSpec(id, target);
    return { memory: false };
  }

  /** Keeps with a snapshot what a sandbox started from it needs: its layers, environment and workdir. */
  protected saveSpec(id: string, target: string): void {
    writeFileSync(join(target, 'spec.json'), readFileSync(join(this.sandboxDir(id), 'spec.json')));
  }

  /** Stops the sandbox, puts the snapshot's layer in place of its own and starts it again. */
  async rollback(id: string, snapshot: string): Promise<SnapshotCapture> {
    await this.shutdown(id);
    await this.replaceLayer(id, snapshot);
    await this.boot(id, snapshot);
    return { memory: this.restores(snapshot) };
  }

  /** Whether starting from this snapshot brings its processes back (only where the runtime restores memory). */
  protected restores(_snapshot: string): boolean {
    return false;
  }

  /** Stops the sandbox's container and forgets it, keeping its files, network and mounts. */
  async shutdown(id: string): Promise<void> {
    this.dropChannel(id);
    if ((await this.state(id).catch(() => 'missing')) === 'paused') await this.runtime(id, ['resume', id]);
    for (const call of this.destroyCalls(id)) await this.runtime(id, call);
  }

  /** With the sandbox stopped: its writable layer becomes the snapshot's (remounted, so overlayfs sees it). */
  private async replaceLayer(id: string, snapshot: string): Promise<void> {
    const rootfs = join(this.sandboxDir(id), 'rootfs');
    await mustRun('umount', [rootfs]);
    const upper = this.upperDir(id);
    for (const path of [upper, join(dirname(upper), 'work')]) {
      rmSync(path, { recursive: true, force: true });
      mkdirSync(path, { recursive: true });
    }
    await copyLayer(join(snapshot, 'layer'), upper);
    await this.mountRootfs(id);
  }

  /**
   * Starts the container detached, in a session of its own so that it (and gVisor's file proxy) outlive
   * this process and its process group; its output goes to a log file, read back when the start fails.
   */
  protected async start(id: string, bundle: string, logPath: string, args?: string[]): Promise<void> {
    const [program, ...prefix] = this.namespacePrefix(id);
    const log = openSync(logPath, 'a');
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        const child = spawn(
          program as string,
          [...prefix, ...this.runtimeArgs(id), ...(args ?? this.runArgs(id, bundle))],
          {
            stdio: ['ignore', log, log],
            detached: true,
          },
        );
        child.once('error', reject);
        child.once('exit', (code) => resolve(code ?? 1));
      });
      if (exitCode !== 0) {
        const output = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim() : '';
        throw new CommandError(`${this.name} run ${id}`, {
          exitCode,
          stdout: Buffer.alloc(0),
          stderr: Buffer.from(output),
        });
      }
    } finally {
      closeSync(log);
    }
  }

  private readonly channels = new Map<string, DaemonChannel>();

  /** Forgets the sandbox's connection (its daemon closed it, e.g. to be checkpointed). */
  protected dropChannel(id: string): void {
    this.channels.get(id)?.close();
    this.channels.delete(id);
  }

  /**
   * Asks the daemon to close its listener and every connection (see daemon/quiesce.go; `daemonQuiesced` waits
   * until it has). The request is noted on the host first: a control plane killed right after sending it
   * leaves the daemon about to act on it, which only this note tells the next one (see `leftQuiesced`).
   */
  protected async askDaemonToQuiesce(id: string): Promise<void> {
    const asked = join(this.sandboxDir(id), quiesceAsked);
    writeFileSync(asked, '');
    try {
      await this.channel(id).call({ op: 'quiesce' });
    } catch (error) {
      rmSync(asked, { force: true });
      throw error;
    }
    this.dropChannel(id);
  }

  /** Waits until the daemon has closed its listener and every connection (it writes a file when it has). */
  protected async daemonQuiesced(id: string, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.quiescedMarker(id)) {
      if (performance.now() > deadline) throw new Error(`the daemon of sandbox ${id} did not quiesce`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /**
   * Whether the daemon's quiesced marker is there. It is in the directory the sandbox writes, so it is only
   * looked at (lstat: a symlink is not followed, and is no marker); what the sandbox says there only decides
   * whether its own daemon is woken.
   */
  protected quiescedMarker(id: string): boolean {
    try {
      return lstatSync(join(this.socketDir(id), 'quiesced')).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Tells a quiesced daemon to listen again (see daemon/quiesce.go): a new value in its control directory's
   * resume file, which it waits for; then waits for the daemon.
   */
  protected async wakeDaemon(id: string): Promise<void> {
    this.writeControl(id, 'resume', randomBytes(16).toString('hex'));
    await this.channel(id)
      .ready(30_000)
      .catch((error: Error) => {
        // What tells a daemon that never woke from one that woke and failed to listen, when this is all we see.
        error.message += ` (after the wake-up: the daemon's quiesced marker is ${this.quiescedMarker(id) ? 'still there' : 'gone'})`;
        throw error;
      });
    rmSync(join(this.sandboxDir(id), quiesceAsked), { force: true });
  }

  /** Replaces a file of the control directory (host-only writable; the sandbox sees it read-only) at once. */
  private writeControl(id: string, name: string, content: string): void {
    const path = join(this.controlDir(id), name);
    writeFileSync(`${path}.new`, content, { mode: 0o644 });
    renameSync(`${path}.new`, path);
  }

  /** The connection to the sandbox's daemon (made on first use, and again after the control plane restarts). */
  channel(id: string): DaemonChannel {
    let channel = this.channels.get(id);
    if (!channel) {
      let token = '';
      try {
        token = readFileSync(join(this.controlDir(id), 'token'), 'utf8').trim();
      } catch {
        // A sandbox that is gone: the channel refuses to connect (an empty token matches no daemon).
      }
      channel = new DaemonChannel(join(this.socketDir(id), 'daemon.sock'), token);
      this.channels.set(id, channel);
    }
    return channel;
  }

  /**
   * The sandbox's host-only directory for its channel, under /run/runtools rather than the state directory (a
   * Unix socket path has to fit in 108 bytes). Nothing in it is bound into the sandbox but its two
   * subdirectories, `socketDir` and `controlDir`.
   */
  protected channelDir(id: string): string {
    this.sandboxDir(id);
    return join(channelRoot, this.stateKey, id);
  }

  /** Bound read-write at /.runtools/run: the daemon's socket and its quiesced marker. The sandbox writes here. */
  protected socketDir(id: string): string {
    return join(this.channelDir(id), 'sock');
  }

  /** Bound read-only at /.runtools/ctl: the daemon's token and the host's wake-ups. Only the host writes here. */
  protected controlDir(id: string): string {
    return join(this.channelDir(id), 'ctl');
  }

  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const running = this.channel(id).exec(
      {
        argv: request.command,
        ...(request.env ? { env: request.env } : {}),
        ...(request.cwd ? { cwd: request.cwd } : {}),
        ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
      },
      { onStdout: (chunk) => stdout.push(chunk), onStderr: (chunk) => stderr.push(chunk) },
    );
    if (request.stdin !== undefined) await running.write(request.stdin);
    running.closeStdin();
    const outcome = await running.done;
    return {
      exitCode: exitCodeOf(outcome),
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
      timedOut: outcome.timedOut,
    };
  }

  /** What the sandbox uses now, from its cgroups (both runtimes honour the bundle's cgroupsPath) and its layer. */
  async stats(id: string): Promise<SandboxStats> {
    const dir = this.sandboxDir(id);
    if (!existsSync(dir)) throw new Error(`sandbox ${id} does not exist`);
    const cgroup = (controller: string, file: string) => {
      try {
        return Number(readFileSync(join('/sys/fs/cgroup', controller, 'runtools', id, file), 'utf8').trim());
      } catch {
        return undefined;
      }
    };
    const disk = join(dir, 'disk');
    let diskBytes: number | undefined;
    let diskLimitBytes: number | undefined;
    if (existsSync(join(dir, 'disk.img'))) {
      const fs = statfsSync(disk);
      diskLimitBytes = fs.blocks * fs.bsize;
      diskBytes = (fs.blocks - fs.bfree) * fs.bsize;
    } else {
      const used = await runCommand('du', ['-sb', join(dir, 'upper')], { timeoutMs: 10_000 });
      diskBytes = used.exitCode === 0 ? Number(used.stdout.toString('utf8').split('\t')[0]) : undefined;
    }
    const memoryLimit = cgroup('memory', 'memory.limit_in_bytes');
    const cpuNanos = cgroup('cpuacct', 'cpuacct.usage');
    return {
      cpuSeconds: cpuNanos === undefined ? undefined : cpuNanos / 1e9,
      memoryBytes: cgroup('memory', 'memory.usage_in_bytes'),
      // cgroup v1 reports "no limit" as a huge number.
      memoryLimitBytes: memoryLimit !== undefined && memoryLimit < 2 ** 60 ? memoryLimit : undefined,
      hostProcesses: cgroup('pids', 'pids.current'),
      diskBytes,
      diskLimitBytes,
    };
  }

  async pause(id: string): Promise<void> {
    await mustRunIn(this, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await mustRunIn(this, ['resume', id]);
    // Frozen mid-snapshot by a control plane that then stopped: its daemon still waits to be woken.
    if (this.quiescedMarker(id)) await this.wakeDaemon(id);
  }

  async recover(id: string): Promise<RuntimeState | 'saved'> {
    this.sandboxDir(id);
    await waitForRuntimeCalls(id);
    return this.settle(id, await this.state(id));
  }

  /** What `recover` does once no runtime call is left running: here, wake a daemon a crash left quiesced. */
  protected async settle(id: string, state: RuntimeState): Promise<RuntimeState | 'saved'> {
    if (state === 'running' && (await this.leftQuiesced(id))) await this.wakeDaemon(id);
    return state;
  }

  /**
   * Whether a caller that is gone left the daemon quiesced, or about to be: it asked (its note is there), and
   * the daemon may not even have read the request yet. Waits for the daemon's marker then; a note without a
   * marker in time means the request never left (the caller died before sending it).
   */
  private async leftQuiesced(id: string): Promise<boolean> {
    const asked = join(this.sandboxDir(id), quiesceAsked);
    if (this.quiescedMarker(id)) return true;
    if (!existsSync(asked)) return false;
    // A daemon reads a request within milliseconds, or a second on a loaded machine.
    const quiesced = await this.daemonQuiesced(id, 3000).then(
      () => true,
      () => false,
    );
    if (!quiesced) rmSync(asked, { force: true });
    return quiesced;
  }

  async state(id: string): Promise<RuntimeState> {
    this.sandboxDir(id);
    const result = await this.runtime(id, ['state', id]);
    if (result.exitCode !== 0) return 'missing';
    try {
      const status = (JSON.parse(result.stdout.toString('utf8')) as { status?: string }).status;
      return status === 'running' ? 'running' : status === 'paused' ? 'paused' : 'stopped';
    } catch {
      return 'missing';
    }
  }

  async destroy(id: string): Promise<void> {
    const dir = this.sandboxDir(id);
    this.channels.get(id)?.close();
    this.channels.delete(id);
    // A frozen sandbox is thawed first, so that the kill reaches its processes.
    if ((await this.state(id).catch(() => 'missing')) === 'paused') await this.runtime(id, ['resume', id]);
    for (const call of this.destroyCalls(id)) await this.runtime(id, call);
    const network = existsSync(dir) ? this.sandboxNetwork(id) : undefined;
    if (network) await this.network.teardown(network);
    const rootfs = join(dir, 'rootfs');
    // Lazy unmount: a process still holding a file must not keep the layer mounted forever.
    await runCommand('umount', ['-l', rootfs]);
    if (existsSync(join(dir, 'disk.img'))) await runCommand('umount', ['-l', join(dir, 'disk')]);
    await this.releaseViews(id);
    rmSync(dir, { recursive: true, force: true });
    rmSync(this.channelDir(id), { recursive: true, force: true });
  }

  /**
   * A read-only view of a host file or directory, for the sandbox to bind in its place: a bind mount of it
   * that is read-only on the host. gVisor (20240729) opens a file of a read-only bind with O_TRUNC on the
   * host before it answers EROFS, so a sandbox emptied what it was bound read-only: the daemon binary every
   * sandbox starts from (then no new sandbox started), its token, a tool runner's code. Through the view, the
   * host's kernel refuses the open. In the sandbox's channel directory, taken down by `releaseViews`.
   */
  private async readOnlyView(id: string, name: string, source: string): Promise<string> {
    const views = join(this.channelDir(id), 'views');
    const view = join(views, name);
    mkdirSync(views, { recursive: true, mode: 0o700 });
    if (statSync(source).isDirectory()) mkdirSync(view);
    else writeFileSync(view, '', { flag: 'wx' });
    // util-linux binds, then remounts the bind with these flags (a bind takes no flags of its own).
    await mustRun(this.tools.mount, ['--bind', '-o', 'ro,nosuid,nodev', source, view]);
    return view;
  }

  /**
   * Unmounts the sandbox's read-only views (before its channel directory is removed, never through them). Two
   * destroys of one sandbox may race (a run's cleanup and a server's shutdown): a view the other already
   * unmounted is fine, one still mounted afterwards is an error.
   */
  private async releaseViews(id: string): Promise<void> {
    const views = `${join(this.channelDir(id), 'views')}/`;
    const mounted = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[4] ?? '')
        .filter((path) => path.startsWith(views))
        .sort((a, b) => b.length - a.length);
    for (const path of mounted()) await runCommand('umount', ['-l', path]);
    const left = mounted();
    if (left.length > 0) throw new Error(`could not unmount the views of sandbox ${id}: ${left.join(', ')}`);
  }
}

/** What a sandbox was started with, kept in its directory and with each of its snapshots. */
export interface SnapshotSpec {
  layers: readonly string[];
  env: Record<string, string>;
  workdir?: string | undefined;
}

/** The template layers, environment and workdir of the sandbox a snapshot was taken of. */
export function snapshotSpec(snapshot: string): SnapshotSpec {
  return JSON.parse(readFileSync(join(snapshot, 'spec.json'), 'utf8')) as SnapshotSpec;
}

/** The host's note that it asked the daemon to quiesce, in the sandbox's own (host-only) directory. */
const quiesceAsked = 'quiesce-asked';

/** Runtime subcommands that change a sandbox's state (never in the argv of the sandbox's own processes). */
const stateChangingCalls = new Set(['checkpoint', 'restore', 'pause', 'resume', 'delete']);

/**
 * Waits (up to a minute) while a runtime call about this sandbox that an earlier control plane started is
 * still running: a checkpoint, restore or pause goes on after its caller is killed, and a state read before it
 * ends would be stale (a sandbox seen running, woken, then frozen by the pause finishing).
 */
export async function waitForRuntimeCalls(id: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    let found = false;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (argv.at(-2) === id && argv.some((arg) => stateChangingCalls.has(arg))) {
        found = true;
        break;
      }
    }
    if (!found) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Copies a writable layer: ownership, modes, times, xattrs (overlayfs's opaque marks), whiteouts, holes. On a
 * filesystem with reflinks (XFS, btrfs) the data is shared copy-on-write and the copy is nearly free.
 */
export async function copyLayer(from: string, to: string): Promise<void> {
  mkdirSync(to, { recursive: true });
  await mustRun('cp', ['-a', '--reflink=auto', '--sparse=always', `${from}/.`, to]);
}

export async function mustRunIn(driver: OciDriver, args: string[]): Promise<void> {
  const result = await driver.runtimeCall(args.at(-1) as string, args);
  if (result.exitCode !== 0) throw new CommandError(`${driver.name} ${args.join(' ')}`, result);
}
