import { privateCgroupNamespace } from '../../host.js';
import { OciDriver } from '../oci-driver.js';

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
   * gVisor's own kernel enforces RLIMIT_NPROC (fork returns EAGAIN). The host pids cgroup counts the
   * sentry's threads instead, and hitting it crashes the sandbox: keep it generous.
   */
  protected pidsLimit(): number {
    return 4096;
  }
}
