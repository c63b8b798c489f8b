import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { privateCgroupNamespace } from '../../host.js';
import { mustRunIn, OciDriver } from '../oci-driver.js';

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
    const dir = this.sandboxDir(id);
    await this.runtimeCall(id, ['delete', '--force', id]);
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
