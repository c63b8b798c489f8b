import type { DaemonChannel, SandboxDriver } from '@runtools/runtime';
import type {
  Sandbox,
  SandboxExecEvent,
  SandboxExecResult,
  SandboxFile,
  SandboxFileEntry,
  SandboxLogEntry,
  SandboxProcess,
  SandboxProcessEvent,
  SandboxProcessStart,
  SandboxRuntime,
  SandboxSnapshot,
  SandboxStats,
  SandboxWatchEvent,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Actor } from '../auth/actor.js';
import type { Page, PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { SandboxChannels } from './sandbox-channels.js';
import { type PausedTo, SandboxContext, type SandboxServiceOptions } from './sandbox-context.js';
import { type ExecInput, SandboxExec } from './sandbox-exec.js';
import { SandboxFiles } from './sandbox-files.js';
import { type SandboxCreateInput, SandboxLifecycle } from './sandbox-lifecycle.js';
import { SandboxLogs } from './sandbox-logs.js';
import { SandboxRecovery } from './sandbox-recovery.js';
import { type SandboxBranchInput, SandboxSnapshots } from './sandbox-snapshots.js';

export { defaultIdleTimeoutSeconds } from './sandbox-lifecycle.js';

/**
 * Sandboxes: records and state in the database, isolation by a runtime driver on this host. Create answers
 * once the sandbox runs; every state change is written before and after the driver acts, so a crash leaves
 * a truthful `creating` or `destroying` behind rather than a lie.
 *
 * The one entry point for handlers, dev URLs, the SSH gateway, the terminal and agents. The work is done by
 * the services behind it (lifecycle, recovery, snapshots, logs, exec and processes, files), which share one
 * `SandboxContext`: the database, the drivers, the per-sandbox lifecycle queue and the running-sandbox cache.
 */
export class SandboxService {
  private readonly lifecycle: SandboxLifecycle;
  private readonly recovery: SandboxRecovery;
  private readonly snapshots: SandboxSnapshots;
  private readonly sandboxLogs: SandboxLogs;
  private readonly channels: SandboxChannels;
  private readonly execs: SandboxExec;
  private readonly files: SandboxFiles;

  private readonly context: SandboxContext;

  constructor(db: Kysely<Database>, options: SandboxServiceOptions) {
    const context = new SandboxContext(db, options);
    this.context = context;
    this.lifecycle = new SandboxLifecycle(context);
    this.snapshots = new SandboxSnapshots(context, this.lifecycle);
    this.recovery = new SandboxRecovery(context, this.snapshots);
    this.sandboxLogs = new SandboxLogs(context);
    // A call to a paused sandbox with autoResume resumes it through the lifecycle, queued like any other change.
    this.channels = new SandboxChannels(context, (orgId, id) => this.lifecycle.resumeInOrg(orgId, id));
    this.execs = new SandboxExec(context, this.channels);
    this.files = new SandboxFiles(this.channels, options.maxUploadBytes);
  }

  /**
   * After a restart: sandboxes this host was running are re-attached when their runtime still runs them and
   * become `suspected_missing` when it does not; a create or destroy the restart interrupted is settled.
   */
  recover(): Promise<{ reattached: number; missing: number; settled: number }> {
    return this.recovery.recover();
  }

  /** This host's driver of a runtime (for the control plane's own sandboxes, such as tool runners). */
  driver(runtime: SandboxRuntime): SandboxDriver {
    return this.context.driver(runtime);
  }

  // Lifecycle.

  create(auth: Actor, body: SandboxCreateInput): Promise<Sandbox> {
    return this.lifecycle.create(auth, body);
  }

  get(auth: Actor, id: string): Promise<Sandbox> {
    return this.lifecycle.get(auth, id);
  }

  list(auth: Actor, query: Record<string, unknown>, page: PageRequest): Promise<Page<Sandbox>> {
    return this.lifecycle.list(auth, query, page);
  }

  /** The org of a sandbox, for the dev-URL proxy, which finds it by its host name; undefined when unknown. */
  orgOf(id: string): Promise<string | undefined> {
    return this.lifecycle.orgOf(id);
  }

  /** Usage from the host's side, plus the process count from inside when the sandbox runs. */
  stats(auth: Actor, id: string): Promise<SandboxStats> {
    return this.lifecycle.stats(auth, id);
  }

  pause(auth: Actor, id: string, to?: PausedTo): Promise<Sandbox> {
    return this.lifecycle.pause(auth, id, to);
  }

  resume(auth: Actor, id: string): Promise<Sandbox> {
    return this.lifecycle.resume(auth, id);
  }

  /** Pauses running sandboxes of this host that have been idle longer than their idle timeout. */
  pauseIdle(): Promise<number> {
    return this.lifecycle.pauseIdle();
  }

  destroy(auth: Actor, id: string): Promise<Sandbox> {
    return this.lifecycle.destroy(auth, id);
  }

  // Snapshots.

  createSnapshot(auth: Actor, id: string, body: { name?: string | undefined }): Promise<SandboxSnapshot> {
    return this.snapshots.createSnapshot(auth, id, body);
  }

  listSnapshots(auth: Actor, id: string, page: PageRequest): Promise<Page<SandboxSnapshot>> {
    return this.snapshots.listSnapshots(auth, id, page);
  }

  deleteSnapshot(auth: Actor, id: string, snapshotId: string): Promise<{ id: string; deleted: true }> {
    return this.snapshots.deleteSnapshot(auth, id, snapshotId);
  }

  rollback(auth: Actor, id: string, body: { snapshot: string }): Promise<Sandbox> {
    return this.snapshots.rollback(auth, id, body);
  }

  branch(auth: Actor, id: string, body: SandboxBranchInput): Promise<Sandbox> {
    return this.snapshots.branch(auth, id, body);
  }

  // Logs.

  logs(auth: Actor, id: string, query: { after?: number | undefined; limit?: number | undefined }) {
    return this.sandboxLogs.logs(auth, id, query);
  }

  /** The log from `after` on, then new entries as they are written; ends after `destroyed`. */
  followLogs(auth: Actor, id: string, after: number): Promise<AsyncIterable<SandboxLogEntry>> {
    return this.sandboxLogs.followLogs(auth, id, after);
  }

  // Exec and background processes.

  /** The daemon channel of a running sandbox of an org (resumed first when paused with autoResume). */
  channelInOrg(orgId: string, id: string): Promise<DaemonChannel> {
    return this.channels.channelInOrg(orgId, id);
  }

  exec(auth: Actor, id: string, request: ExecInput): Promise<SandboxExecResult> {
    return this.execs.exec(auth, id, request);
  }

  /** Runs a command and hands back its output as events while it runs, `exit` last. */
  execStream(auth: Actor, id: string, request: ExecInput): Promise<AsyncIterable<SandboxExecEvent>> {
    return this.execs.execStream(auth, id, request);
  }

  startProcess(auth: Actor, id: string, body: SandboxProcessStart): Promise<SandboxProcess> {
    return this.execs.startProcess(auth, id, body);
  }

  listProcesses(auth: Actor, id: string, page: PageRequest): Promise<Page<SandboxProcess>> {
    return this.execs.listProcesses(auth, id, page);
  }

  getProcess(auth: Actor, id: string, pid: number): Promise<SandboxProcess> {
    return this.execs.getProcess(auth, id, pid);
  }

  /** A background process's output from byte `since` on, each chunk with its offset, then its exit. */
  followProcess(auth: Actor, id: string, pid: number, since: number): Promise<AsyncIterable<SandboxProcessEvent>> {
    return this.execs.followProcess(auth, id, pid, since);
  }

  processStdin(auth: Actor, id: string, pid: number, data: Buffer, eof: boolean) {
    return this.execs.processStdin(auth, id, pid, data, eof);
  }

  resizeProcess(auth: Actor, id: string, pid: number, size: { cols: number; rows: number }) {
    return this.execs.resizeProcess(auth, id, pid, size);
  }

  signalProcess(auth: Actor, id: string, pid: number, signal: string) {
    return this.execs.signalProcess(auth, id, pid, signal);
  }

  // Files.

  readFile(auth: Actor, id: string, path: string): Promise<SandboxFile> {
    return this.files.readFile(auth, id, path);
  }

  writeFile(auth: Actor, id: string, path: string, content: Buffer): Promise<{ path: string; exists: boolean }> {
    return this.files.writeFile(auth, id, path, content);
  }

  listFiles(auth: Actor, id: string, path: string): Promise<SandboxFileEntry[]> {
    return this.files.listFiles(auth, id, path);
  }

  listFilesPage(auth: Actor, id: string, path: string, page: PageRequest): Promise<Page<SandboxFileEntry>> {
    return this.files.listFilesPage(auth, id, path, page);
  }

  pathExists(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    return this.files.pathExists(auth, id, path);
  }

  removePath(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    return this.files.removePath(auth, id, path);
  }

  /** A file's bytes as a stream, read from the sandbox a megabyte at a time as the client takes them. */
  downloadFile(auth: Actor, id: string, path: string) {
    return this.files.downloadFile(auth, id, path);
  }

  /** Streams an upload into the sandbox; a refused or cut-off upload leaves the old file as it was. */
  uploadFile(
    auth: Actor,
    id: string,
    path: string,
    body: AsyncIterable<Uint8Array> | undefined,
    append: boolean,
  ): Promise<{ path: string; size: number }> {
    return this.files.uploadFile(auth, id, path, body, append);
  }

  statFile(auth: Actor, id: string, path: string) {
    return this.files.statFile(auth, id, path);
  }

  moveFile(auth: Actor, id: string, from: string, to: string): Promise<{ path: string; exists: boolean }> {
    return this.files.moveFile(auth, id, from, to);
  }

  /** Filesystem events under a directory until the client goes away; answers once the watch is in place. */
  watchFiles(auth: Actor, id: string, path: string, recursive: boolean): Promise<AsyncIterable<SandboxWatchEvent>> {
    return this.files.watchFiles(auth, id, path, recursive);
  }

  makeDirectory(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    return this.files.makeDirectory(auth, id, path);
  }
}
