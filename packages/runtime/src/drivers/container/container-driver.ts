import type { ExecRequest } from '../../driver.js';
import { envFlags, OciDriver } from '../oci-driver.js';

/**
 * crun with cgroupfs: near-native speed, Linux namespaces and cgroups for isolation (the host kernel is
 * shared: pick gvisor for untrusted code).
 */
export class ContainerDriver extends OciDriver {
  readonly name = 'container' as const;

  constructor(
    stateDir: string,
    tools: { unshare: string; mount: string },
    private readonly crun: string,
  ) {
    super(stateDir, tools);
  }

  protected runtimeArgs(): string[] {
    return [this.crun, '--root', `${this.stateDir}/.crun`, '--cgroup-manager=cgroupfs'];
  }

  protected runArgs(id: string, bundleDir: string): string[] {
    return ['run', '--detach', '--bundle', bundleDir, id];
  }

  protected execArgs(id: string, request: ExecRequest): string[] {
    return [
      'exec',
      ...(request.cwd ? ['--cwd', request.cwd] : []),
      ...envFlags('--env', request.env),
      id,
      ...request.command,
    ];
  }

  /** Root is exempt from RLIMIT_NPROC on the host kernel: the pids cgroup is what stops a fork bomb. */
  protected pidsLimit(maxProcesses: number): number {
    return maxProcesses;
  }

  protected destroyCalls(id: string): string[][] {
    return [
      ['kill', id, 'KILL'],
      ['delete', '--force', id],
    ];
  }
}
