import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeState, SnapshotCapture } from '../../driver.js';
import { privateCgroupNamespace } from '../../host.js';
import { copyLayer, mustRunIn, OciDriver } from '../oci-driver.js';

/**
 * gVisor's runsc (20240729, platform systrap): a user-space kernel between the sandbox and the host. The
 * secure default. `--overlay2=none` keeps root filesystem writes in the sandbox's host-side layer, where
 * the control plane can read them; `--host-uds=create` lets the daemon's socket in /.runtools/run be a real
 * host socket the control plane connects to (the sandbox may create sockets, never connect to the host's);
 * the identical global flags go on every call, as runsc requires.
 */
export class GvisorDriver extends OciDriver {
  readonly name = 'gvisor' as const;
  protected readonly sharesHostKernel = false;

  constructor(
    stateDir: string,
    tools: { unshare: string; mount: string; daemon: string; ip: string; nft: string | undefined },
    private readonly runsc: string,
  ) {
    super(stateDir, tools);
  }

  /** A sandbox with internet egress uses gVisor's own network stack over the veth in its namespace. */
  protected runtimeArgs(id: string): string[] {
    return [
      this.runsc,
      '--root',
      `${this.stateDir}/.runsc`,
      '--platform=systrap',
      `--network=${this.sandboxNetwork(id) ? 'sandbox' : 'none'}`,
      '--overlay2=none',
      '--host-uds=create',
    ];
  }

  /**
   * runsc refuses `--network=sandbox` when it believes it runs in the host's network namespace, which it
   * decides from /proc/sys/net/core/rmem_default: kernel 6.x has that file in every namespace. Hiding
   * /proc/sys/net in its private mount namespace avoids the false alarm (see RUNTIME-NOTES).
   */
  protected override namespacePrefix(id: string): string[] {
    return privateCgroupNamespace(this.tools.unshare, { hideProcSysNet: this.sandboxNetwork(id) !== undefined });
  }

  /**
   * Saves the sandbox's memory to `imageDir` and leaves it frozen (`thaw` wakes it). The daemon's channel is
   * a host socket, which gVisor cannot save: the daemon is quiesced first. Freezing before the checkpoint
   * (runsc pause; `--leave-running` keeps it paused) means nothing runs between the memory image and
   * whatever the caller does next, and that a crash mid-way leaves a frozen sandbox, never a stopped one.
   */
  async freezeToImage(id: string, imageDir: string): Promise<void> {
    await this.askDaemonToQuiesce(id);
    let frozen = false;
    try {
      await this.daemonQuiesced(id);
      await mustRunIn(this, ['pause', id]);
      frozen = true;
      mkdirSync(imageDir, { recursive: true });
      await mustRunIn(this, ['checkpoint', '--image-path', imageDir, '--leave-running', id]);
    } catch (error) {
      if (frozen) await mustRunIn(this, ['resume', id]).catch(() => {});
      await this.wakeDaemon(id).catch(() => {});
      throw error;
    }
  }

  /** Lets a sandbox frozen by `freezeToImage` run again. */
  async thaw(id: string): Promise<void> {
    await mustRunIn(this, ['resume', id]);
    await this.wakeDaemon(id);
  }

  /** Starts the sandbox again from a checkpoint image, with its processes where they were. */
  async restore(id: string, imageDir: string): Promise<void> {
    await this.runtimeCall(id, ['delete', '--force', id]);
    await this.startFromImage(id, imageDir);
  }

  private async startFromImage(id: string, imageDir: string): Promise<void> {
    const dir = this.sandboxDir(id);
    const network = this.sandboxNetwork(id);
    if (network) await this.network.readdress(network);
    const bundle = join(dir, 'bundle');
    await this.start(id, bundle, join(dir, 'runtime.log'), [
      'restore',
      '--detach',
      '--image-path',
      imageDir,
      '--bundle',
      bundle,
      id,
    ]);
    await this.wakeDaemon(id);
  }

  override async boot(id: string, snapshot?: string): Promise<void> {
    if (snapshot && this.restores(snapshot)) await this.startFromImage(id, join(snapshot, 'image'));
    else await super.boot(id, snapshot);
  }

  protected override restores(snapshot: string): boolean {
    return existsSync(join(snapshot, 'image'));
  }

  /**
   * Memory and files at one moment: the sandbox is frozen (runsc pause), checkpointed with `--leave-running`
   * (it stays frozen), its layer copied, and thawed. One paused to disk is copied as it lies.
   */
  override async snapshot(id: string, target: string): Promise<SnapshotCapture> {
    const state = this.pausedToDisk(id) ? 'saved' : await this.state(id);
    // Stopped with its files kept: files only.
    if (state === 'missing') return super.snapshot(id, target);
    if (state === 'paused') {
      // Frozen in memory, its daemon too: thawed for the checkpoint (which freezes it again), then refrozen.
      await mustRunIn(this, ['resume', id]);
      try {
        return await this.snapshot(id, target);
      } finally {
        await mustRunIn(this, ['pause', id]);
      }
    }
    if (state === 'saved') {
      await copyLayer(this.checkpointPath(id), join(target, 'image'));
      await copyLayer(this.upperDir(id), join(target, 'layer'));
    } else {
      await this.freezeToImage(id, join(target, 'image'));
      try {
        await copyLayer(this.upperDir(id), join(target, 'layer'));
      } finally {
        await this.thaw(id);
      }
    }
    this.saveSpec(id, target);
    return { memory: true };
  }

  override async shutdown(id: string): Promise<void> {
    await super.shutdown(id);
    rmSync(this.checkpointPath(id), { recursive: true, force: true });
  }

  private checkpointPath(id: string): string {
    return join(this.sandboxDir(id), 'checkpoint');
  }

  async pauseToDisk(id: string): Promise<void> {
    const image = this.checkpointPath(id);
    for (const path of [image, `${image}.partial`]) rmSync(path, { recursive: true, force: true });
    await this.freezeToImage(id, `${image}.partial`);
    // Renamed only once complete: an image on disk is always a whole one, and without one the sandbox is
    // still there, frozen (see recover).
    renameSync(`${image}.partial`, image);
    // The stopped container's remains go now (runsc takes ~1.4 s over it), so that resume does not wait.
    await this.runtimeCall(id, ['delete', '--force', id]);
  }

  async resumeFromDisk(id: string): Promise<void> {
    const image = this.checkpointPath(id);
    await this.restore(id, image);
    rmSync(image, { recursive: true, force: true });
  }

  /**
   * A sandbox whose image was renamed into place is saved (its container is removed if a crash left it),
   * unless a resume had already restored it; one frozen for a checkpoint that never finished (a pause or snapshot the crash cut short) is thawed.
   */
  protected override async settle(id: string, state: RuntimeState): Promise<RuntimeState | 'saved'> {
    const image = this.checkpointPath(id);
    rmSync(`${image}.partial`, { recursive: true, force: true });
    if (existsSync(image) && state === 'running') {
      // A resume the crash cut short had restored it: it runs, its daemon waits to be woken.
      rmSync(image, { recursive: true, force: true });
      return super.settle(id, state);
    }
    if (existsSync(image)) {
      if (state !== 'missing') await this.runtimeCall(id, ['delete', '--force', id]);
      return 'saved';
    }
    if (state === 'paused' && this.quiescedMarker(id)) {
      await this.thaw(id);
      return 'running';
    }
    return super.settle(id, state);
  }

  pausedToDisk(id: string): boolean {
    return existsSync(this.checkpointPath(id));
  }

  /**
   * gVisor's own kernel enforces RLIMIT_NPROC (fork returns EAGAIN). The host pids cgroup counts the
   * sentry's threads instead, and hitting it crashes the sandbox: keep it generous.
   */
  protected pidsLimit(): number {
    return 4096;
  }
}
