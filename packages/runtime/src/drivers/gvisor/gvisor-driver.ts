import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeState, SnapshotCapture } from '../../driver.js';
import { privateCgroupNamespace } from '../../host.js';
import { copyLayer, mustRunIn, OciDriver, waitForRuntimeCalls } from '../oci-driver.js';

/**
 * gVisor's runsc (20240729, platform systrap): a user-space kernel between the sandbox and the host. The
 * secure default. `--overlay2=none` keeps root filesystem writes in the sandbox's host-side layer, where
 * the control plane can read them; `--host-uds=create` lets the daemon's socket in /.runtools/run be a real
 * host socket the control plane connects to (the sandbox may create sockets, never connect to the host's);
 * the identical global flags go on every call, as runsc requires.
 */
export class GvisorDriver extends OciDriver {
  readonly name = 'gvisor' as const;

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
   * Saves the whole sandbox (process memory and, with the host-side layer, its files stay where they are) to
   * `imageDir`. The daemon's channel is a host socket, which gVisor cannot save: it is quiesced first and
   * woken after. With `leaveRunning` the sandbox keeps running (a snapshot); otherwise it stops.
   */
  async checkpoint(id: string, imageDir: string, options: { leaveRunning?: boolean } = {}): Promise<void> {
    if (this.sandboxNetwork(id)) throw new Error('checkpoint of a sandbox with internet egress is not supported yet');
    await this.channel(id).call({ op: 'quiesce' });
    this.dropChannel(id);
    await this.daemonQuiesced(id);
    mkdirSync(imageDir, { recursive: true });
    let stopped = false;
    try {
      await mustRunIn(this, [
        'checkpoint',
        '--image-path',
        imageDir,
        ...(options.leaveRunning ? ['--leave-running'] : []),
        id,
      ]);
      stopped = !options.leaveRunning;
    } finally {
      if (!stopped) await this.wakeDaemon(id);
    }
  }

  /** Starts the sandbox again from a checkpoint image, with its processes where they were. */
  async restore(id: string, imageDir: string): Promise<void> {
    await this.runtimeCall(id, ['delete', '--force', id]);
    await this.startFromImage(id, imageDir);
  }

  private async startFromImage(id: string, imageDir: string): Promise<void> {
    const dir = this.sandboxDir(id);
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

  protected override async boot(id: string, snapshot?: string): Promise<void> {
    if (snapshot && this.restores(snapshot)) await this.startFromImage(id, join(snapshot, 'image'));
    else await super.boot(id, snapshot);
  }

  protected override restores(snapshot: string): boolean {
    return existsSync(join(snapshot, 'image'));
  }

  /**
   * Memory and files at one moment: the sandbox is frozen (runsc pause), checkpointed with `--leave-running`
   * (it stays frozen), its layer copied, and thawed. One paused to disk is copied as it lies. With internet
   * egress only its files are taken (its network cannot be checkpointed yet).
   */
  override async snapshot(id: string, target: string): Promise<SnapshotCapture> {
    if (this.pausedToDisk(id)) {
      await copyLayer(this.checkpointPath(id), join(target, 'image'));
      await copyLayer(this.upperDir(id), join(target, 'layer'));
      this.saveSpec(id, target);
      return { memory: true };
    }
    if (this.sandboxNetwork(id)) return super.snapshot(id, target);
    await this.channel(id).call({ op: 'quiesce' });
    this.dropChannel(id);
    try {
      await this.daemonQuiesced(id);
      await mustRunIn(this, ['pause', id]);
      try {
        mkdirSync(join(target, 'image'), { recursive: true });
        await mustRunIn(this, ['checkpoint', '--image-path', join(target, 'image'), '--leave-running', id]);
        await copyLayer(this.upperDir(id), join(target, 'layer'));
      } finally {
        await mustRunIn(this, ['resume', id]);
      }
    } finally {
      await this.wakeDaemon(id);
    }
    this.saveSpec(id, target);
    return { memory: true };
  }

  protected override async stopForRollback(id: string): Promise<void> {
    await super.stopForRollback(id);
    rmSync(this.checkpointPath(id), { recursive: true, force: true });
  }

  private checkpointPath(id: string): string {
    return join(this.sandboxDir(id), 'checkpoint');
  }

  /** Sandboxes with internet egress are frozen in memory instead (their veth needs work to restore). */
  canPauseToDisk(id: string): boolean {
    return !this.sandboxNetwork(id);
  }

  async pauseToDisk(id: string): Promise<void> {
    const image = this.checkpointPath(id);
    rmSync(image, { recursive: true, force: true });
    await this.checkpoint(id, `${image}.partial`);
    // Renamed only once complete: an image on disk is always a whole one.
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
   * A pause interrupted after runsc wrote its image and stopped the sandbox is finished (the image is whole:
   * runsc stops a sandbox only once it is saved); one interrupted before is undone.
   */
  override async recover(id: string): Promise<RuntimeState | 'saved'> {
    await waitForRuntimeCalls(id);
    const image = this.checkpointPath(id);
    const partial = `${image}.partial`;
    const state = await this.state(id);
    if (existsSync(partial)) {
      if ((state === 'stopped' || state === 'missing') && existsSync(join(partial, 'checkpoint.img')))
        renameSync(partial, image);
      else rmSync(partial, { recursive: true, force: true });
    }
    if (existsSync(image)) {
      if (state !== 'missing') await this.runtimeCall(id, ['delete', '--force', id]);
      return 'saved';
    }
    return super.recover(id);
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
