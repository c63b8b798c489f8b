import { OciDriver } from '../oci-driver.js';

/**
 * crun with cgroupfs: near-native speed, Linux namespaces and cgroups for isolation (the host kernel is
 * shared: pick gvisor for untrusted code).
 */
export class ContainerDriver extends OciDriver {
  readonly name = 'container' as const;
  protected readonly sharesHostKernel = true;

  constructor(
    stateDir: string,
    tools: { unshare: string; mount: string; daemon: string; ip: string; nft: string | undefined },
    private readonly crun: string,
  ) {
    super(stateDir, tools);
  }

  protected runtimeArgs(_id: string): string[] {
    return [this.crun, '--root', `${this.stateDir}/.crun`, '--cgroup-manager=cgroupfs'];
  }

  /**
   * Root is exempt from RLIMIT_NPROC on the host kernel: the pids cgroup is what stops a fork bomb. It also
   * counts the daemon's threads, hence the headroom.
   */
  protected pidsLimit(maxProcesses: number): number {
    return maxProcesses + 32;
  }
}
