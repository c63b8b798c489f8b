import type { SandboxLimits } from './bundle.js';
import type { DaemonChannel } from './channel.js';

export type DriverName = 'gvisor' | 'container';

export interface DriverSandboxSpec {
  id: string;
  /** The template's read-only layers, top first; the sandbox writes to its own layer above them. */
  layers: readonly string[];
  /** The first process's working directory: the default for exec. */
  workdir?: string;
  /** Internet egress (see network.ts); without it the sandbox has loopback only. */
  internet?: boolean;
  /**
   * Host directories bound into the sandbox, parents first: read-write (workspaces), or read-only (what the
   * control plane hands a sandbox of its own, such as a tool runner's code, which the sandbox must not change).
   */
  mounts?: readonly { hostPath: string; path: string; readOnly?: boolean }[];
  hostname: string;
  env: Record<string, string>;
  limits: SandboxLimits;
  /**
   * A snapshot directory (see `SandboxDriver.snapshot`) to start from: its files become the new sandbox's
   * writable layer and, where it holds a memory image, its processes resume where they were.
   */
  snapshot?: string;
}

/** What a snapshot holds: always the writable layer; with `memory`, the processes too (a checkpoint image). */
export interface SnapshotCapture {
  memory: boolean;
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
  timedOut: boolean;
}

export type RuntimeState = 'running' | 'paused' | 'stopped' | 'missing';

/** What a sandbox uses; a figure the host cannot read is undefined. */
export interface SandboxStats {
  /** CPU time used since it started. */
  cpuSeconds: number | undefined;
  memoryBytes: number | undefined;
  memoryLimitBytes: number | undefined;
  /** Host tasks in its pids cgroup (for gVisor: the sentry's threads, not the sandbox's processes). */
  hostProcesses: number | undefined;
  /** Bytes in its writable layer. */
  diskBytes: number | undefined;
  diskLimitBytes: number | undefined;
}

/** What a sandbox runtime does for the control plane. Both drivers run the same OCI bundle. */
export interface SandboxDriver {
  readonly name: DriverName;
  /** Creates the sandbox's writable layer and starts it; resolves once it runs. */
  create(spec: DriverSandboxSpec): Promise<void>;
  /** The in-sandbox daemon's channel: exec, processes, files, port forwarding. */
  channel(id: string): DaemonChannel;
  /** Runs a command to completion through the channel, collecting its output. */
  exec(id: string, request: ExecRequest): Promise<ExecResult>;
  stats(id: string): Promise<SandboxStats>;
  /**
   * Saves the whole sandbox to disk and stops it, freeing its memory and CPU (`resumeFromDisk` brings it back
   * with its processes where they were). Only where the runtime can checkpoint: gVisor.
   */
  pauseToDisk?(id: string): Promise<void>;
  resumeFromDisk?(id: string): Promise<void>;
  /** Whether the sandbox has a checkpoint image waiting to be resumed. */
  pausedToDisk?(id: string): boolean;
  /**
   * Saves the sandbox's state into `target` (a new directory): its writable layer, and its memory where the
   * runtime can checkpoint (gVisor). The sandbox is stopped only while that is taken and runs on after;
   * a sandbox paused to disk is copied as it lies.
   */
  snapshot(id: string, target: string): Promise<SnapshotCapture>;
  /**
   * Puts the sandbox back to a snapshot of it, in place, and runs it: its files as they were and, from a
   * memory snapshot, its processes; from a filesystem-only one its processes start afresh.
   */
  rollback(id: string, snapshot: string): Promise<SnapshotCapture>;
  /**
   * Stops every process of the sandbox and frees its memory, keeping its files, network and mounts (a pause
   * to the filesystem, where the runtime cannot checkpoint); `boot` starts it again, processes afresh.
   */
  shutdown(id: string): Promise<void>;
  boot(id: string): Promise<void>;
  /** Freezes every process of the sandbox in memory; `resume` thaws them. */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stops the sandbox and removes everything it had; safe to call again. */
  destroy(id: string): Promise<void>;
  /**
   * After the control plane stopped mid-operation: finishes or undoes what was interrupted (a checkpoint
   * still being written is waited for, a complete one kept, a partial one removed, a daemon left quiesced
   * woken) and says what the sandbox is now: `saved` when it lies on disk, paused.
   */
  recover(id: string): Promise<RuntimeState | 'saved'>;
  /** What the runtime says of the sandbox: `missing` when it knows nothing of it. */
  state(id: string): Promise<RuntimeState>;
  /** The sandbox's root filesystem as the host sees it (its writable layer over the base). */
  rootfsPath(id: string): string;
}
