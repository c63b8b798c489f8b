import type { ExecRequest } from '../../driver.js';
import { envFlags, OciDriver } from '../oci-driver.js';

/**
 * gVisor's runsc (20240729, platform systrap): a user-space kernel between the sandbox and the host. The
 * secure default. `--overlay2=none` keeps root filesystem writes in the sandbox's host-side layer, where
 * the control plane can read them; the identical global flags go on every call, as runsc requires.
 */
export class GvisorDriver extends OciDriver {
  readonly name = 'gvisor' as const;

  constructor(
    stateDir: string,
    tools: { unshare: string; mount: string },
    private readonly runsc: string,
  ) {
    super(stateDir, tools);
  }

  protected runtimeArgs(): string[] {
    return [this.runsc, '--root', `${this.stateDir}/.runsc`, '--platform=systrap', '--network=none', '--overlay2=none'];
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

  /**
   * gVisor's own kernel enforces RLIMIT_NPROC (fork returns EAGAIN). The host pids cgroup counts the
   * sentry's threads instead, and hitting it crashes the sandbox: keep it generous.
   */
  protected pidsLimit(): number {
    return 4096;
  }

  protected destroyCalls(id: string): string[][] {
    return [
      ['kill', id, 'KILL'],
      ['delete', '--force', id],
    ];
  }
}
