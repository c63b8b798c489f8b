import type { SandboxLimits } from './bundle.js';

export type DriverName = 'gvisor' | 'container';

export interface DriverSandboxSpec {
  id: string;
  /** The read-only base root filesystem; the sandbox writes to its own layer above it. */
  baseRootfs: string;
  hostname: string;
  env: Record<string, string>;
  limits: SandboxLimits;
}

export interface ExecRequest {
  command: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  stdin?: Buffer | string;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** What a sandbox runtime does for the control plane. Both drivers run the same OCI bundle. */
export interface SandboxDriver {
  readonly name: DriverName;
  /** Creates the sandbox's writable layer and starts it; resolves once it runs. */
  create(spec: DriverSandboxSpec): Promise<void>;
  exec(id: string, request: ExecRequest): Promise<ExecResult>;
  /** Like exec, handing output over as it arrives; `kill` stops the command. */
  execStream(
    id: string,
    request: ExecRequest,
    output: { onStdout(chunk: Buffer): void; onStderr(chunk: Buffer): void },
  ): { done: Promise<number>; kill(): void };
  /** Stops the sandbox and removes everything it had; safe to call again. */
  destroy(id: string): Promise<void>;
  /** What the runtime says of the sandbox: `missing` when it knows nothing of it. */
  state(id: string): Promise<'running' | 'stopped' | 'missing'>;
  /** The sandbox's root filesystem as the host sees it (its writable layer over the base). */
  rootfsPath(id: string): string;
}
