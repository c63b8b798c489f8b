import { EventEmitter } from 'node:events';
import { renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  availableDrivers,
  ChannelError,
  type DaemonChannel,
  type DriverName,
  exitCodeOf,
  type ProcessRequest,
  runCommand,
  type SandboxDriver,
  snapshotSpec,
} from '@runtools/runtime';
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
  SandboxStatus,
  SandboxWatchEvent,
} from '@runtools/spec';
import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import { audit } from '../audit.js';
import type { AuthContext } from '../auth/authenticate.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { newId, nowIso } from '../ids.js';
import type { StorageQuota } from '../usage/storage-quota.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';
import { parseByteSize } from './byte-size.js';
import { EventQueue } from './event-queue.js';
import type { TemplateService } from './template-service.js';

const defaultMemoryBytes = 1024 ** 3;
const minMemoryBytes = 64 * 1024 ** 2;
const defaultVcpus = 1;
const defaultExecTimeoutMs = 60_000;
/** Seconds without activity before a sandbox is paused (Daytona's auto-stop default is 15 minutes). */
export const defaultIdleTimeoutSeconds = 900;
const maxOutputBytes = 8 * 1024 * 1024;
const downloadChunkBytes = 1024 * 1024;
/** How much of a refused upload's remaining body is read (and dropped) so its client sees the answer. */
const uploadDrainBytes = 64 * 1024 * 1024;

/** What the daemon runs for an API exec request: the command string under /bin/sh. */
function processRequest(request: ExecInput, timeoutMs: number): ProcessRequest {
  return {
    argv: ['/bin/sh', '-c', request.command],
    ...(request.cwd ? { cwd: request.cwd } : {}),
    ...(request.env ? { env: request.env } : {}),
    timeoutMs,
  };
}

/** A daemon failure as the API reports it. */
function channelApiError(error: unknown, context: { sandboxId: string; path?: string }): unknown {
  if (!(error instanceof ChannelError)) return error;
  const details = { ...context, reason: error.code };
  switch (error.code) {
    case 'not_found':
      return new ApiError('file_not_found', error.message, details);
    case 'process_not_found':
      return new ApiError('process_not_found', error.message, details);
    case 'invalid':
      return new ApiError('validation_failed', error.message, details);
    case 'no_space':
      return new ApiError('sandbox_disk_full', `the sandbox's disk is full: ${error.message}`, details);
    case 'channel_lost':
    case 'channel_unavailable':
    case 'channel_closed':
      return new ApiError(
        'sandbox_unreachable',
        `sandbox ${context.sandboxId} does not answer: ${error.message}`,
        details,
      );
    default:
      return new ApiError('validation_failed', error.message, details);
  }
}

type PausedTo = 'disk' | 'memory' | 'filesystem';

type ExecInput = {
  command: string;
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  stdin?: string | undefined;
  timeoutMs?: number | undefined;
};

function sandboxFromRow(row: Database['sandboxes']): Sandbox {
  return {
    id: row.id,
    name: row.name,
    template: row.template,
    runtime: row.runtime as SandboxRuntime,
    status: row.status as SandboxStatus,
    statusReason: row.status_reason,
    pausedTo: row.status === 'paused' ? ((row.paused_to as PausedTo | null) ?? 'memory') : null,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    resources: {
      vcpus: row.vcpus,
      memoryBytes: Number(row.memory_bytes),
      diskBytes: row.disk_bytes === null ? null : Number(row.disk_bytes),
    },
    network: { internet: Number(row.internet) === 1 },
    mounts: JSON.parse(row.mounts) as { workspaceId: string; path: string }[],
    idleTimeout: Number(row.idle_timeout),
    autoResume: Number(row.auto_resume) === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function snapshotFromRow(row: Database['sandbox_snapshots']): SandboxSnapshot {
  return {
    id: row.id,
    sandboxId: row.sandbox_id,
    name: row.name,
    runtime: row.runtime as SandboxRuntime,
    memory: Number(row.memory) === 1,
    sizeBytes: Number(row.size_bytes),
    createdAt: row.created_at,
  };
}

/** Bytes a directory tree holds on disk. */
async function directoryBytes(path: string): Promise<number> {
  const used = await runCommand('du', ['-sb', path], { timeoutMs: 60_000 });
  return used.exitCode === 0 ? Number(used.stdout.toString('utf8').split('\t')[0]) : 0;
}

function logEntryFromRow(row: Selectable<Database['sandbox_logs']>): SandboxLogEntry {
  const data = JSON.parse(row.data) as Record<string, unknown>;
  return {
    seq: Number(row.seq),
    at: row.created_at,
    type: row.type as SandboxLogEntry['type'],
    message: row.message,
    ...(row.status ? { status: row.status as SandboxStatus } : {}),
    ...(Object.keys(data).length > 0 ? { data } : {}),
  };
}

/** A disk size from the API: at least 64 MiB (an ext4 layer smaller than that is of no use), at most 16 TiB. */
function diskBytes(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes < 64 * 1024 ** 2 || bytes > 16 * 1024 ** 4)
    throw new ApiError('validation_failed', `invalid body.resources.disk: between 64MB and 16TB, got ${text}`, {
      field: 'resources.disk',
    });
  return bytes;
}

/** Collects a command's output up to the API's limit, marking where it was cut. */
class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = false;

  push(chunk: Buffer): void {
    if (this.bytes >= maxOutputBytes) {
      this.dropped = true;
      return;
    }
    this.chunks.push(chunk.subarray(0, maxOutputBytes - this.bytes));
    this.dropped ||= chunk.length > maxOutputBytes - this.bytes;
    this.bytes += Math.min(chunk.length, maxOutputBytes - this.bytes);
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `${text}\n[output truncated]` : text;
  }
}

/**
 * Sandboxes: records and state in the database, isolation by a runtime driver on this host. Create answers
 * once the sandbox runs; every state change is written before and after the driver acts, so a crash leaves
 * a truthful `creating` or `destroying` behind rather than a lie.
 */
export class SandboxService {
  private readonly drivers: Partial<Record<DriverName, SandboxDriver>>;
  private readonly missing: Partial<Record<DriverName, string>>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: {
      dataDir: string;
      defaultRuntime: SandboxRuntime;
      defaultTemplate: string;
      templates: TemplateService;
      workspaces: WorkspaceService;
      /** Largest file upload, in bytes. */
      maxUploadBytes: number;
      /** The most one sandbox may ask for (the host's capacity unless configured lower). */
      maxVcpus: number;
      maxMemoryBytes: number;
      /** The disk limit of a sandbox that does not ask for one. */
      defaultDiskBytes: number;
      storage: StorageQuota;
      logger: Logger;
    },
  ) {
    const found = availableDrivers(join(options.dataDir, 'sandboxes'));
    this.drivers = found.drivers;
    this.missing = found.missing;
    this.hostId = `${hostname()}:${options.dataDir}`;
  }

  private readonly hostId: string;
  /** When each sandbox last saw exec, file or process activity (ms since the epoch). */
  private readonly lastActivity = new Map<string, number>();
  private readonly lifecycle = new Map<string, Promise<void>>();
  /**
   * Sandboxes this process has seen running, and with what: exec, file and dev-URL calls to them skip the
   * database. Any status change drops the entry (and bumps the sandbox's generation, so that a read that
   * raced with the change cannot put a stale one back).
   */
  private readonly knownRunning = new Map<string, { orgId: string; runtime: SandboxRuntime }>();
  private readonly statusGeneration = new Map<string, number>();
  /** Live sandbox log entries, by sandbox id. */
  private readonly followers = new EventEmitter().setMaxListeners(0);

  /**
   * After a restart: sandboxes this host was running are re-attached when their runtime still runs them and
   * become `suspected_missing` when it does not; a create or destroy the restart interrupted is settled.
   */
  async recover(): Promise<{ reattached: number; missing: number; settled: number }> {
    await this.recoverSnapshots();
    const rows = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('host_id', '=', this.hostId)
      .where('status', 'in', ['creating', 'running', 'pausing', 'paused', 'resuming', 'destroying'])
      .execute();
    const counts = { reattached: 0, missing: 0, settled: 0 };
    for (const row of rows) {
      const driver = this.drivers[row.runtime as DriverName];
      if (row.status === 'creating') {
        await driver?.destroy(row.id).catch(() => {});
        await this.setStatus(row.id, 'failed', 'the control plane stopped while the sandbox was being created');
        counts.settled++;
        continue;
      }
      if (row.status === 'destroying') {
        await driver?.destroy(row.id).catch(() => {});
        await this.setStatus(row.id, 'destroyed');
        counts.settled++;
        continue;
      }
      const rollback =
        row.status === 'resuming' ? /^rolling back to (snp_[a-z2-7]+)/.exec(row.status_reason ?? '') : null;
      if (driver && rollback?.[1]) {
        // A rollback is redone from the start: the snapshot is whole, whatever state the layer was left in.
        const done = await this.rollbackTo(row, rollback[1]).then(
          () => true,
          () => false,
        );
        counts[done ? 'reattached' : 'missing']++;
        continue;
      }
      const state = driver ? await driver.recover(row.id).catch(() => 'missing' as const) : 'missing';
      if (driver && row.paused_to === 'filesystem' && row.status !== 'running' && state === 'missing') {
        // Stopped with its files kept, as a pause to the filesystem leaves it (or a resume had not yet started).
        if (row.status !== 'paused') await this.setStatus(row.id, 'paused');
        counts.reattached++;
      } else if (state === 'saved') {
        await this.db.updateTable('sandboxes').set({ paused_to: 'disk' }).where('id', '=', row.id).execute();
        if (row.status !== 'paused') await this.setStatus(row.id, 'paused');
        counts.reattached++;
      } else if (state === 'paused' && (row.status === 'running' || row.status === 'resuming')) {
        // Frozen by a snapshot or a resume the restart interrupted: thawed, as it was meant to be.
        await driver?.resume(row.id);
        if (row.status !== 'running') await this.setStatus(row.id, 'running');
        counts.reattached++;
      } else if (state === 'running' || state === 'paused') {
        if (state === 'paused')
          await this.db.updateTable('sandboxes').set({ paused_to: 'memory' }).where('id', '=', row.id).execute();
        if (row.status !== state) await this.setStatus(row.id, state);
        counts.reattached++;
      } else {
        await this.setStatus(
          row.id,
          'suspected_missing',
          driver ? 'the runtime no longer runs this sandbox' : `the ${row.runtime} runtime is unavailable`,
        );
        counts.missing++;
      }
    }
    if (rows.length > 0) this.options.logger.info(counts, 'sandboxes recovered');
    return counts;
  }

  /** Snapshots a restart caught half-taken or half-deleted are removed: only whole ones are ever listed. */
  private async recoverSnapshots(): Promise<void> {
    const rows = await this.db
      .selectFrom('sandbox_snapshots')
      .select('id')
      .where('host_id', '=', this.hostId)
      .where('status', 'in', ['creating', 'deleting'])
      .execute();
    for (const row of rows) {
      const dir = this.snapshotDir(row.id);
      for (const path of [dir, `${dir}.partial`]) rmSync(path, { recursive: true, force: true });
      await this.db.deleteFrom('sandbox_snapshots').where('id', '=', row.id).execute();
    }
  }

  private driver(runtime: SandboxRuntime): SandboxDriver {
    const driver = this.drivers[runtime];
    if (!driver) {
      throw new ApiError(
        'runtime_unavailable',
        `the ${runtime} runtime cannot run on this server: ${this.missing[runtime]}`,
        {
          runtime,
        },
      );
    }
    return driver;
  }

  /** Forgets that a sandbox runs: called before any status change is written. */
  private statusChanging(id: string): void {
    this.knownRunning.delete(id);
    this.statusGeneration.set(id, (this.statusGeneration.get(id) ?? 0) + 1);
  }

  private async setStatus(id: string, status: SandboxStatus, reason: string | null = null): Promise<void> {
    this.statusChanging(id);
    await this.db
      .updateTable('sandboxes')
      .set({ status, status_reason: reason, updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
    await this.log(id, { type: 'status', status, message: reason ? `${status}: ${reason}` : status });
  }

  /** Moves a sandbox from one of `from` to `to`; false (and nothing written) when it was in none of them. */
  private async transition(
    id: string,
    from: readonly SandboxStatus[],
    to: SandboxStatus,
    reason: string | null = null,
  ): Promise<boolean> {
    this.statusChanging(id);
    const result = await this.db
      .updateTable('sandboxes')
      .set({ status: to, status_reason: reason, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.log(id, { type: 'status', status: to, message: reason ? `${to}: ${reason}` : to });
    return true;
  }

  /** Appends to the sandbox's log and tells its followers. */
  private async log(
    id: string,
    entry: { type: SandboxLogEntry['type']; message: string; status?: SandboxStatus; data?: Record<string, unknown> },
  ): Promise<void> {
    const at = nowIso();
    const inserted = await this.db
      .insertInto('sandbox_logs')
      .values({
        sandbox_id: id,
        type: entry.type,
        message: entry.message,
        status: entry.status ?? null,
        data: JSON.stringify(entry.data ?? {}),
        created_at: at,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    this.followers.emit(id, {
      seq: Number(inserted.seq),
      at,
      type: entry.type,
      message: entry.message,
      ...(entry.status ? { status: entry.status } : {}),
      ...(entry.data ? { data: entry.data } : {}),
    } satisfies SandboxLogEntry);
  }

  /** One lifecycle change at a time per sandbox (pause, resume, destroy, idle pause). */
  private serialised<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.lifecycle.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.lifecycle.set(id, settled);
    settled.then(() => {
      if (this.lifecycle.get(id) === settled) this.lifecycle.delete(id);
    });
    return next;
  }

  /** Usage from the host's side, plus the process count from inside when the sandbox runs. */
  async stats(auth: AuthContext, id: string): Promise<SandboxStats> {
    const row = await this.row(auth, id);
    if (row.status !== 'running' && row.status !== 'paused') {
      throw new ApiError('sandbox_not_running', `sandbox ${id} is ${row.status}; stats need a running or paused one`, {
        status: row.status,
      });
    }
    const driver = this.driver(row.runtime as SandboxRuntime);
    const usage = await driver.stats(id).catch((error: Error) => {
      throw new ApiError('sandbox_unreachable', `cannot read the usage of sandbox ${id}: ${error.message}`);
    });
    let processes: number | null = null;
    if (row.status === 'running') {
      const listed = await driver
        .channel(id)
        .list('/proc')
        .catch(() => undefined);
      // Every numeric directory of /proc is a process; the daemon is one of them and is not counted.
      if (listed) processes = listed.filter((entry) => entry.type === 'dir' && /^\d+$/.test(entry.name)).length - 1;
    }
    return {
      cpuSeconds: usage.cpuSeconds ?? null,
      memoryBytes: usage.memoryBytes ?? null,
      memoryLimitBytes: usage.memoryLimitBytes ?? null,
      diskBytes: usage.diskBytes ?? null,
      diskLimitBytes: usage.diskLimitBytes ?? null,
      processes,
    };
  }

  async pause(auth: AuthContext, id: string, to?: PausedTo): Promise<Sandbox> {
    return this.pauseInOrg(auth.orgId, id, null, to);
  }

  /**
   * Pauses a sandbox of an org: for a caller, or for the idle sweep, which acts for no one in particular. By
   * default to disk where the runtime can checkpoint (gVisor), else frozen in memory (crun); `filesystem`
   * stops it keeping its files. What it became is written with `pausing`, so recovery knows what was meant.
   */
  private async pauseInOrg(orgId: string, id: string, reason: string | null, wanted?: PausedTo): Promise<Sandbox> {
    await this.rowInOrg(orgId, id);
    return this.serialised(id, async () => {
      const row = await this.rowInOrg(orgId, id);
      if (row.status === 'paused') return sandboxFromRow(row);
      if (row.status !== 'running')
        throw new ApiError('invalid_transition', `sandbox ${id} is ${row.status}; only a running sandbox can pause`, {
          status: row.status,
        });
      const driver = this.driver(row.runtime as SandboxRuntime);
      const to = wanted ?? (driver.pauseToDisk ? 'disk' : 'memory');
      if (to === 'disk' && !driver.pauseToDisk)
        throw new ApiError(
          'validation_failed',
          `the ${row.runtime} runtime cannot save processes to disk here; pause to memory or filesystem`,
          { field: 'to' },
        );
      await this.db.updateTable('sandboxes').set({ paused_to: to }).where('id', '=', id).execute();
      if (!(await this.transition(id, ['running'], 'pausing'))) return sandboxFromRow(await this.rowInOrg(orgId, id));
      try {
        if (to === 'disk') await driver.pauseToDisk?.(id);
        else if (to === 'filesystem') await driver.shutdown(id);
        else await driver.pause(id);
      } catch (error) {
        await this.setStatus(id, 'error', `pause failed: ${(error as Error).message}`);
        throw new ApiError('runtime_unavailable', `the sandbox could not be paused: ${(error as Error).message}`);
      }
      await this.transition(id, ['pausing'], 'paused', reason);
      return sandboxFromRow(await this.rowInOrg(orgId, id));
    });
  }

  async resume(auth: AuthContext, id: string): Promise<Sandbox> {
    return this.resumeInOrg(auth.orgId, id);
  }

  private async resumeInOrg(orgId: string, id: string): Promise<Sandbox> {
    await this.rowInOrg(orgId, id);
    return this.serialised(id, async () => {
      const row = await this.rowInOrg(orgId, id);
      if (row.status === 'running') return sandboxFromRow(row);
      if (row.status !== 'paused')
        throw new ApiError('invalid_transition', `sandbox ${id} is ${row.status}; only a paused sandbox can resume`, {
          status: row.status,
        });
      const driver = this.driver(row.runtime as SandboxRuntime);
      if (!(await this.transition(id, ['paused'], 'resuming'))) return sandboxFromRow(await this.rowInOrg(orgId, id));
      try {
        if (row.paused_to === 'disk') await driver.resumeFromDisk?.(id);
        else if (row.paused_to === 'filesystem') {
          await driver.boot(id);
          const start = await this.templateStart(row);
          if (start) await this.runStart(driver, id, start);
        } else await driver.resume(id);
      } catch (error) {
        await this.setStatus(id, 'error', `resume failed: ${(error as Error).message}`);
        throw new ApiError('runtime_unavailable', `the sandbox could not be resumed: ${(error as Error).message}`);
      }
      this.lastActivity.set(id, Date.now());
      await this.transition(id, ['resuming'], 'running');
      return sandboxFromRow(await this.rowInOrg(orgId, id));
    });
  }

  private snapshotDir(id: string): string {
    return join(this.options.dataDir, 'snapshots', id);
  }

  /**
   * Takes a snapshot of a running or paused sandbox. Recorded as `creating` first and listed only once its
   * directory is complete (written under `.partial`, then renamed), so a crash leaves nothing half-listed.
   */
  async createSnapshot(auth: AuthContext, id: string, body: { name?: string | undefined }): Promise<SandboxSnapshot> {
    await this.row(auth, id);
    return this.serialised(id, async () => {
      const row = await this.row(auth, id);
      if (row.status !== 'running' && row.status !== 'paused')
        throw new ApiError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a running or paused sandbox can be snapshotted`,
          { status: row.status },
        );
      const driver = this.driver(row.runtime as SandboxRuntime);
      // What the snapshot will hold is not known before it is taken; an org already at its quota takes none.
      await this.options.storage.ensure(auth, 1, 'a snapshot');
      if (body.name && (await this.snapshotRow(auth, id, body.name).catch(() => undefined)))
        throw new ApiError('snapshot_exists', `sandbox ${id} already has a snapshot named ${body.name}`, {
          name: body.name,
        });
      const snapshot: Database['sandbox_snapshots'] = {
        id: newId('snapshot'),
        org_id: auth.orgId,
        sandbox_id: id,
        name: body.name ?? null,
        runtime: row.runtime,
        memory: 0,
        size_bytes: 0,
        status: 'creating',
        host_id: this.hostId,
        created_at: nowIso(),
      };
      await this.db.insertInto('sandbox_snapshots').values(snapshot).execute();
      const dir = this.snapshotDir(snapshot.id);
      let memory: boolean;
      try {
        ({ memory } = await driver.snapshot(id, `${dir}.partial`));
        renameSync(`${dir}.partial`, dir);
      } catch (error) {
        rmSync(`${dir}.partial`, { recursive: true, force: true });
        await this.db.deleteFrom('sandbox_snapshots').where('id', '=', snapshot.id).execute();
        throw new ApiError('runtime_unavailable', `the snapshot failed: ${(error as Error).message}`, {
          sandboxId: id,
        });
      }
      const sizeBytes = await directoryBytes(dir);
      await this.db
        .updateTable('sandbox_snapshots')
        .set({ status: 'ready', memory: memory ? 1 : 0, size_bytes: sizeBytes })
        .where('id', '=', snapshot.id)
        .execute();
      await this.log(id, {
        type: 'snapshot',
        message: `snapshot ${snapshot.id}${snapshot.name ? ` (${snapshot.name})` : ''} taken${memory ? '' : ', files only'}`,
        data: { snapshotId: snapshot.id, memory, sizeBytes },
      });
      await audit(this.db, {
        orgId: auth.orgId,
        event: 'sandbox.snapshot_created',
        actorKeyId: auth.keyId,
        targetId: snapshot.id,
        details: { sandboxId: id, memory },
      });
      return snapshotFromRow({ ...snapshot, status: 'ready', memory: memory ? 1 : 0, size_bytes: sizeBytes });
    });
  }

  async listSnapshots(auth: AuthContext, id: string): Promise<SandboxSnapshot[]> {
    await this.row(auth, id);
    const rows = await this.db
      .selectFrom('sandbox_snapshots')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('sandbox_id', '=', id)
      .where('status', '=', 'ready')
      .orderBy('created_at')
      .execute();
    return rows.map(snapshotFromRow);
  }

  /** A ready snapshot of the sandbox, by id or name. */
  private async snapshotRow(auth: AuthContext, sandboxId: string, ref: string) {
    const row = await this.db
      .selectFrom('sandbox_snapshots')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('sandbox_id', '=', sandboxId)
      .where('status', '=', 'ready')
      .where(ref.startsWith('snp_') ? 'id' : 'name', '=', ref)
      .executeTakeFirst();
    if (!row)
      throw new ApiError('snapshot_not_found', `sandbox ${sandboxId} has no snapshot ${ref}`, { snapshot: ref });
    return row;
  }

  async deleteSnapshot(auth: AuthContext, id: string, snapshotId: string): Promise<{ id: string; deleted: true }> {
    await this.row(auth, id);
    return this.serialised(id, async () => {
      const snapshot = await this.snapshotRow(auth, id, snapshotId);
      // Marked first: a crash mid-delete is finished by recovery, never listed half-gone.
      await this.db
        .updateTable('sandbox_snapshots')
        .set({ status: 'deleting' })
        .where('id', '=', snapshot.id)
        .execute();
      rmSync(this.snapshotDir(snapshot.id), { recursive: true, force: true });
      await this.db.deleteFrom('sandbox_snapshots').where('id', '=', snapshot.id).execute();
      await audit(this.db, {
        orgId: auth.orgId,
        event: 'sandbox.snapshot_deleted',
        actorKeyId: auth.keyId,
        targetId: snapshot.id,
        details: { sandboxId: id },
      });
      return { id: snapshot.id, deleted: true as const };
    });
  }

  /**
   * Puts a running or paused sandbox back to one of its snapshots, in place; it runs after. While it
   * happens the sandbox is `resuming` with the snapshot named in its reason, so recovery can finish it.
   */
  async rollback(auth: AuthContext, id: string, body: { snapshot: string }): Promise<Sandbox> {
    await this.row(auth, id);
    return this.serialised(id, async () => {
      const row = await this.row(auth, id);
      const snapshot = await this.snapshotRow(auth, id, body.snapshot);
      if (row.status !== 'running' && row.status !== 'paused')
        throw new ApiError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a running or paused sandbox can roll back`,
          {
            status: row.status,
          },
        );
      this.driver(row.runtime as SandboxRuntime);
      if (!(await this.transition(id, [row.status as SandboxStatus], 'resuming', `rolling back to ${snapshot.id}`)))
        throw new ApiError('invalid_transition', `sandbox ${id} changed state; try again`);
      await this.rollbackTo(row, snapshot.id);
      await audit(this.db, {
        orgId: auth.orgId,
        event: 'sandbox.rolled_back',
        actorKeyId: auth.keyId,
        targetId: id,
        details: { snapshotId: snapshot.id },
      });
      return sandboxFromRow(await this.row(auth, id));
    });
  }

  /** The driver's rollback and what follows it; a sandbox that cannot be brought back is `error`. */
  private async rollbackTo(row: Database['sandboxes'], snapshotId: string): Promise<void> {
    const driver = this.driver(row.runtime as SandboxRuntime);
    let memory: boolean;
    try {
      ({ memory } = await driver.rollback(row.id, this.snapshotDir(snapshotId)));
      await this.db.updateTable('sandboxes').set({ paused_to: null }).where('id', '=', row.id).execute();
      const start = memory ? undefined : await this.templateStart(row);
      if (start) await this.runStart(driver, row.id, start);
    } catch (error) {
      await this.setStatus(row.id, 'error', `rollback failed: ${(error as Error).message}`);
      throw new ApiError('runtime_unavailable', `the rollback failed: ${(error as Error).message}`, {
        sandboxId: row.id,
      });
    }
    this.lastActivity.set(row.id, Date.now());
    await this.transition(
      row.id,
      ['resuming'],
      'running',
      `rolled back to ${snapshotId}${memory ? '' : ' (files only: processes started afresh)'}`,
    );
  }

  /** The start command of the sandbox's template, when it has one and the template still exists. */
  private async templateStart(row: Database['sandboxes']): Promise<string | undefined> {
    const template = await this.options.templates.describe(row.org_id, row.template).catch(() => undefined);
    return template?.start ?? undefined;
  }

  /**
   * A new sandbox from a snapshot: the source's template, runtime, resources, network and mounts, its
   * files and (from a memory snapshot) its processes. The two are independent from then on.
   */
  async branch(
    auth: AuthContext,
    id: string,
    body: {
      snapshot: string;
      name?: string | undefined;
      metadata?: Record<string, string> | undefined;
      idleTimeout?: number | undefined;
      autoResume?: boolean | undefined;
    },
  ): Promise<Sandbox> {
    const source = await this.row(auth, id);
    const snapshot = await this.snapshotRow(auth, id, body.snapshot);
    const dir = this.snapshotDir(snapshot.id);
    const mounts = await this.options.workspaces.resolveMounts(
      auth,
      JSON.parse(source.mounts) as { workspaceId: string; path: string }[],
    );
    const now = nowIso();
    const row: Database['sandboxes'] = {
      ...source,
      id: newId('sandbox'),
      name: body.name ?? null,
      host_id: this.hostId,
      status: 'creating',
      status_reason: null,
      metadata: JSON.stringify(body.metadata ?? JSON.parse(source.metadata)),
      idle_timeout: body.idleTimeout ?? source.idle_timeout,
      auto_resume: body.autoResume === undefined ? source.auto_resume : body.autoResume ? 1 : 0,
      // A sandbox from before disk limits were the default branches with one.
      disk_bytes: source.disk_bytes ?? this.options.defaultDiskBytes,
      paused_to: null,
      created_at: now,
      updated_at: now,
    };
    const release = await this.options.storage.reserve(auth, row.id, Number(row.disk_bytes), 'a branch with this disk');
    const branched = await this.launch(
      auth,
      row,
      mounts,
      `creating (branch of ${id} from ${snapshot.id})`,
      async () => {
        const spec = snapshotSpec(dir);
        return {
          ...spec,
          snapshot: dir,
          start: Number(snapshot.memory) === 1 ? undefined : await this.templateStart(source),
        };
      },
    ).finally(release);
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'sandbox.branched',
      actorKeyId: auth.keyId,
      targetId: row.id,
      details: { sandboxId: id, snapshotId: snapshot.id },
    });
    return branched;
  }

  async logs(auth: AuthContext, id: string, query: { after?: number | undefined; limit?: number | undefined }) {
    await this.row(auth, id);
    const rows = await this.db
      .selectFrom('sandbox_logs')
      .selectAll()
      .where('sandbox_id', '=', id)
      .where('seq', '>', query.after ?? 0)
      .orderBy('seq')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.map(logEntryFromRow);
  }

  /** The log from `after` on, then new entries as they are written; ends after `destroyed`. */
  async followLogs(auth: AuthContext, id: string, after: number): Promise<AsyncIterable<SandboxLogEntry>> {
    await this.row(auth, id);
    let last = after;
    const pending: SandboxLogEntry[] = [];
    let replaying = true;
    const events = new EventQueue<SandboxLogEntry>(() => this.followers.off(id, listener));
    const deliver = (entry: SandboxLogEntry) => {
      if (entry.seq <= last) return;
      last = entry.seq;
      events.push(entry);
      if (entry.type === 'status' && entry.status === 'destroyed') {
        this.followers.off(id, listener);
        events.end();
      }
    };
    const listener = (entry: SandboxLogEntry) => (replaying ? pending.push(entry) : deliver(entry));
    this.followers.on(id, listener);
    for (;;) {
      const page = await this.logs(auth, id, { after: last, limit: 1000 });
      for (const entry of page) deliver(entry);
      if (page.length < 1000 || events.isEnded) break;
    }
    replaying = false;
    for (const entry of pending) deliver(entry);
    return events;
  }

  /** Pauses running sandboxes of this host that have been idle longer than their idle timeout. */
  async pauseIdle(): Promise<number> {
    const rows = await this.db
      .selectFrom('sandboxes')
      .select(['id', 'org_id', 'idle_timeout', 'updated_at'])
      .where('host_id', '=', this.hostId)
      .where('status', '=', 'running')
      .where('idle_timeout', '>', 0)
      .execute();
    let paused = 0;
    const now = Date.now();
    for (const row of rows) {
      const last = this.lastActivity.get(row.id) ?? Date.parse(row.updated_at);
      if (now - last < Number(row.idle_timeout) * 1000) continue;
      try {
        await this.pauseInOrg(row.org_id, row.id, `idle for ${row.idle_timeout}s`);
        paused++;
      } catch (error) {
        this.options.logger.warn({ err: error, sandboxId: row.id }, 'idle pause failed');
      }
    }
    return paused;
  }

  private row(auth: AuthContext, id: string): Promise<Database['sandboxes']> {
    return this.rowInOrg(auth.orgId, id);
  }

  private async rowInOrg(orgId: string, id: string): Promise<Database['sandboxes']> {
    const row = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new ApiError('sandbox_not_found', `no sandbox ${id}`);
    return row;
  }

  async create(
    auth: AuthContext,
    body: {
      template?: string | undefined;
      name?: string | undefined;
      runtime?: SandboxRuntime | undefined;
      env?: Record<string, string> | undefined;
      metadata?: Record<string, string> | undefined;
      resources?: { vcpus?: number | undefined; memory?: string | undefined; disk?: string | undefined } | undefined;
      idleTimeout?: number | undefined;
      autoResume?: boolean | undefined;
      network?: { internet?: boolean | undefined } | undefined;
      mounts?: { workspaceId: string; path?: string | undefined }[] | undefined;
    },
  ): Promise<Sandbox> {
    const templateName = body.template ?? this.options.defaultTemplate;
    // Unknown templates and workspaces are refused before anything is written.
    await this.options.templates.get(auth, templateName);
    const mounts = await this.options.workspaces.resolveMounts(auth, body.mounts ?? []);
    const runtime = body.runtime ?? this.options.defaultRuntime;
    this.driver(runtime);
    const now = nowIso();
    const row: Database['sandboxes'] = {
      id: newId('sandbox'),
      org_id: auth.orgId,
      name: body.name ?? null,
      template: templateName,
      runtime,
      host_id: this.hostId,
      status: 'creating',
      status_reason: null,
      metadata: JSON.stringify(body.metadata ?? {}),
      vcpus: this.vcpus(body.resources?.vcpus),
      memory_bytes: this.memoryBytes(body.resources?.memory),
      idle_timeout: body.idleTimeout ?? defaultIdleTimeoutSeconds,
      auto_resume: body.autoResume ? 1 : 0,
      internet: body.network?.internet ? 1 : 0,
      disk_bytes: body.resources?.disk ? diskBytes(body.resources.disk) : this.options.defaultDiskBytes,
      mounts: JSON.stringify(mounts.map(({ workspaceId, path }) => ({ workspaceId, path }))),
      paused_to: null,
      created_at: now,
      updated_at: now,
    };
    const release = await this.options.storage.reserve(
      auth,
      row.id,
      Number(row.disk_bytes),
      'a sandbox with this disk',
    );
    try {
      return await this.launch(auth, row, mounts, `creating (${runtime}, ${row.template})`, async () => {
        const template = await this.options.templates.resolve(auth, templateName, (line) =>
          this.options.logger.info({ template: templateName }, line),
        );
        return {
          layers: template.layers,
          env: { ...template.env, ...body.env },
          workdir: template.workdir,
          start: template.start,
        };
      });
    } finally {
      release();
    }
  }

  /** The vCPUs asked for, within what one sandbox may have. */
  private vcpus(asked: number | undefined): number {
    const vcpus = asked ?? defaultVcpus;
    if (vcpus > this.options.maxVcpus)
      throw new ApiError(
        'resource_limit_exceeded',
        `a sandbox may have at most ${this.options.maxVcpus} vCPUs here; asked for ${vcpus}`,
        { field: 'resources.vcpus', limit: this.options.maxVcpus },
      );
    return vcpus;
  }

  /** The memory asked for: at least 64 MiB (no runtime starts in less), at most what one sandbox may have. */
  private memoryBytes(asked: string | undefined): number {
    if (asked === undefined) return Math.min(defaultMemoryBytes, this.options.maxMemoryBytes);
    const bytes = parseByteSize(asked);
    if (bytes < minMemoryBytes)
      throw new ApiError('validation_failed', `invalid body.resources.memory: at least 64MiB, got ${asked}`, {
        field: 'resources.memory',
      });
    if (bytes > this.options.maxMemoryBytes)
      throw new ApiError(
        'resource_limit_exceeded',
        `a sandbox may have at most ${this.options.maxMemoryBytes} bytes of memory here; asked for ${asked}`,
        { field: 'resources.memory', limit: this.options.maxMemoryBytes },
      );
    return bytes;
  }

  /**
   * Records a new sandbox as `creating`, has the driver start it from what `prepare` says (a template's
   * layers, or a snapshot), runs its start command where it starts afresh, and marks it `running`; a
   * failure leaves it `failed` with the reason.
   */
  private async launch(
    auth: AuthContext,
    row: Database['sandboxes'],
    mounts: { hostPath: string; path: string }[],
    message: string,
    prepare: () => Promise<{
      layers: readonly string[];
      env: Record<string, string>;
      workdir?: string | undefined;
      start?: string | undefined;
      snapshot?: string;
    }>,
  ): Promise<Sandbox> {
    const driver = this.driver(row.runtime as SandboxRuntime);
    await this.db.insertInto('sandboxes').values(row).execute();
    await this.log(row.id, { type: 'status', status: 'creating', message });
    try {
      const from = await prepare();
      await driver.create({
        id: row.id,
        layers: from.layers,
        ...(from.workdir ? { workdir: from.workdir } : {}),
        ...(from.snapshot ? { snapshot: from.snapshot } : {}),
        hostname: row.name ?? 'sandbox',
        env: from.env,
        ...(Number(row.internet) === 1 ? { internet: true } : {}),
        ...(mounts.length ? { mounts: mounts.map(({ hostPath, path }) => ({ hostPath, path })) } : {}),
        limits: {
          vcpus: row.vcpus,
          memoryBytes: Number(row.memory_bytes),
          maxProcesses: 4096,
          ...(row.disk_bytes !== null ? { diskBytes: Number(row.disk_bytes) } : {}),
        },
      });
      if (from.start) await this.runStart(driver, row.id, from.start);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.setStatus(row.id, 'failed', reason);
      if (error instanceof ApiError) throw error;
      this.options.logger.error({ err: error, sandboxId: row.id }, 'sandbox failed to start');
      throw new ApiError('runtime_unavailable', `the sandbox failed to start: ${reason}`, { sandboxId: row.id });
    }
    await this.setStatus(row.id, 'running');
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'sandbox.created',
      actorKeyId: auth.keyId,
      targetId: row.id,
      details: { runtime: row.runtime },
    });
    return sandboxFromRow({ ...row, status: 'running', updated_at: nowIso() });
  }

  /** Starts a template's start command in the background. */
  private async runStart(driver: SandboxDriver, id: string, command: string): Promise<void> {
    const pid = await driver.channel(id).spawn({ argv: ['/bin/sh', '-c', command] });
    await this.log(id, { type: 'process', message: `started ${pid}: ${command}`, data: { pid } });
  }

  async get(auth: AuthContext, id: string): Promise<Sandbox> {
    return sandboxFromRow(await this.row(auth, id));
  }

  async list(auth: AuthContext, query: Record<string, unknown>): Promise<Sandbox[]> {
    let select = this.db.selectFrom('sandboxes').selectAll().where('org_id', '=', auth.orgId);
    // Destroyed sandboxes stay readable by id, but lists show them only when asked for by status.
    select =
      typeof query.status === 'string'
        ? select.where('status', '=', query.status)
        : select.where('status', '!=', 'destroyed');
    const wanted = Object.entries(query)
      .filter(([key, value]) => key.startsWith('metadata.') && typeof value === 'string')
      .map(([key, value]) => [key.slice('metadata.'.length), value as string] as const);
    const rows = await select.orderBy('created_at').execute();
    return rows
      .map(sandboxFromRow)
      .filter((sandbox) => wanted.every(([key, value]) => sandbox.metadata[key] === value));
  }

  async exec(auth: AuthContext, id: string, request: ExecInput): Promise<SandboxExecResult> {
    const channel = await this.channelOf(auth, id);
    const stdout = new OutputBuffer();
    const stderr = new OutputBuffer();
    try {
      const running = channel.exec(processRequest(request, request.timeoutMs ?? defaultExecTimeoutMs), {
        onStdout: (chunk) => stdout.push(chunk),
        onStderr: (chunk) => stderr.push(chunk),
      });
      if (request.stdin !== undefined) await running.write(request.stdin);
      running.closeStdin();
      const outcome = await running.done;
      const exitCode = exitCodeOf(outcome);
      this.logExec(id, request.command, exitCode);
      return { stdout: stdout.text(), stderr: stderr.text(), exitCode, timedOut: outcome.timedOut };
    } catch (error) {
      throw channelApiError(error, { sandboxId: id });
    }
  }

  /** The org of a sandbox, for the dev-URL proxy, which finds it by its host name; undefined when unknown. */
  async orgOf(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('sandboxes').select('org_id').where('id', '=', id).executeTakeFirst();
    return row?.org_id;
  }

  /** The daemon channel of a running sandbox of an org (resumed first when paused with autoResume). */
  async channelInOrg(orgId: string, id: string): Promise<DaemonChannel> {
    const known = this.knownRunning.get(id);
    if (known?.orgId === orgId && !this.lifecycle.has(id)) {
      this.lastActivity.set(id, Date.now());
      return this.driver(known.runtime).channel(id);
    }
    const generation = this.statusGeneration.get(id);
    const row = await this.runningRowInOrg(orgId, id);
    if (this.statusGeneration.get(id) === generation)
      this.knownRunning.set(id, { orgId, runtime: row.runtime as SandboxRuntime });
    this.lastActivity.set(id, Date.now());
    return this.driver(row.runtime as SandboxRuntime).channel(id);
  }

  /** The daemon channel of a running sandbox of the caller's org. */
  private channelOf(auth: AuthContext, id: string): Promise<DaemonChannel> {
    return this.channelInOrg(auth.orgId, id);
  }

  /**
   * The sandbox's row once it runs: a lifecycle change under way (pause, snapshot, rollback) is waited for,
   * and a paused sandbox with `autoResume` is resumed first.
   */
  private async runningRowInOrg(orgId: string, id: string): Promise<Database['sandboxes']> {
    await this.lifecycle.get(id);
    let row = await this.rowInOrg(orgId, id);
    if (row.status === 'paused' && Number(row.auto_resume) === 1) {
      await this.resumeInOrg(orgId, id);
      row = await this.rowInOrg(orgId, id);
    }
    if (row.status !== 'running') {
      throw new ApiError('sandbox_not_running', `sandbox ${id} is ${row.status}; exec needs a running sandbox`, {
        status: row.status,
      });
    }
    return row;
  }

  /**
   * Runs a command and hands back its output as events while it runs, `exit` last. Checks happen before
   * the first event, so a bad request is still a plain error answer; ending the iteration early (the client
   * went away) kills the command.
   */
  async execStream(auth: AuthContext, id: string, request: ExecInput): Promise<AsyncIterable<SandboxExecEvent>> {
    const channel = await this.channelOf(auth, id);
    // The client going away cancels the command: it does not outlive its caller.
    const events = new EventQueue<SandboxExecEvent>(() => running.cancel());
    const running = channel.exec(processRequest(request, request.timeoutMs ?? defaultExecTimeoutMs), {
      onStdout: (chunk) => events.push({ type: 'stdout', data: chunk.toString('base64') }),
      onStderr: (chunk) => events.push({ type: 'stderr', data: chunk.toString('base64') }),
    });
    if (request.stdin !== undefined) running.write(request.stdin).catch(() => {});
    running.closeStdin();
    running.done.then(
      (outcome) => {
        // Cancelled: the client went away, and nobody is left to tell.
        if (outcome.exitCode !== undefined) {
          events.push({ type: 'exit', exitCode: outcome.exitCode, timedOut: outcome.timedOut });
          this.logExec(id, request.command, outcome.exitCode);
        }
        events.end();
      },
      (error: Error) => {
        events.push({ type: 'stderr', data: Buffer.from(`runtools: ${error.message}\n`).toString('base64') });
        events.push({ type: 'exit', exitCode: 127, timedOut: false });
        events.end();
      },
    );
    return events;
  }

  private logExec(id: string, command: string, exitCode: number): void {
    const shown = command.length > 200 ? `${command.slice(0, 200)}…` : command;
    this.log(id, { type: 'exec', message: `$ ${shown} (exit ${exitCode})`, data: { exitCode } }).catch((error) =>
      this.options.logger.warn({ err: error, sandboxId: id }, 'sandbox log write failed'),
    );
  }

  async startProcess(auth: AuthContext, id: string, body: SandboxProcessStart): Promise<SandboxProcess> {
    const pid = await this.onChannel(auth, id, {}, (channel) =>
      channel.spawn({
        argv: ['/bin/sh', '-c', body.command],
        ...(body.cwd ? { cwd: body.cwd } : {}),
        ...(body.env ? { env: body.env } : {}),
        ...(body.timeoutMs ? { timeoutMs: body.timeoutMs } : {}),
        ...(body.pty ? { pty: body.pty } : {}),
      }),
    );
    const shown = body.command.length > 200 ? `${body.command.slice(0, 200)}…` : body.command;
    await this.log(id, { type: 'process', message: `started ${pid}: ${shown}`, data: { pid } });
    return this.getProcess(auth, id, pid);
  }

  async listProcesses(auth: AuthContext, id: string): Promise<SandboxProcess[]> {
    const processes = await this.onChannel(auth, id, {}, (channel) => channel.processes());
    return processes.map((process) => ({
      pid: process.pid,
      // Started as /bin/sh -c <command>.
      command: process.argv.length === 3 && process.argv[1] === '-c' ? (process.argv[2] ?? '') : process.argv.join(' '),
      running: process.running,
      exitCode: process.exitCode ?? null,
      startedAt: process.startedAt,
      endedAt: process.endedAt ?? null,
      outputBytes: process.outputBytes,
    }));
  }

  async getProcess(auth: AuthContext, id: string, pid: number): Promise<SandboxProcess> {
    const found = (await this.listProcesses(auth, id)).find((process) => process.pid === pid);
    if (!found) throw new ApiError('process_not_found', `no background process ${pid} in sandbox ${id}`, { pid });
    return found;
  }

  /** A background process's output from byte `since` on, each chunk with its offset, then its exit. */
  async followProcess(
    auth: AuthContext,
    id: string,
    pid: number,
    since: number,
  ): Promise<AsyncIterable<SandboxProcessEvent>> {
    await this.getProcess(auth, id, pid);
    const channel = await this.channelOf(auth, id);
    let offset = since;
    const chunk = (type: 'stdout' | 'stderr') => (data: Buffer) => {
      events.push({ type, data: data.toString('base64'), offset });
      offset += data.length;
    };
    const events = new EventQueue<SandboxProcessEvent>(() => attached.cancel());
    const attached = channel.attach(pid, since, { onStdout: chunk('stdout'), onStderr: chunk('stderr') });
    attached.done.then(
      (outcome) => {
        if (outcome.exitCode !== undefined)
          events.push({
            type: 'exit',
            exitCode: outcome.exitCode,
            timedOut: outcome.timedOut,
            ...(outcome.signal ? { signal: outcome.signal } : {}),
          });
        events.end();
      },
      () => events.end(),
    );
    return events;
  }

  async processStdin(auth: AuthContext, id: string, pid: number, data: Buffer, eof: boolean) {
    await this.onChannel(auth, id, {}, (channel) => channel.stdin(pid, data, eof));
    return { pid };
  }

  async resizeProcess(auth: AuthContext, id: string, pid: number, size: { cols: number; rows: number }) {
    await this.onChannel(auth, id, {}, (channel) => channel.resize(pid, size.cols, size.rows));
    return { pid };
  }

  async signalProcess(auth: AuthContext, id: string, pid: number, signal: string) {
    await this.onChannel(auth, id, {}, (channel) => channel.kill(pid, signal));
    await this.log(id, { type: 'process', message: `sent SIG${signal} to ${pid}`, data: { pid, signal } });
    return { pid };
  }

  /** Runs an operation on the sandbox's daemon, reporting its failures as API errors. */
  private async onChannel<T>(
    auth: AuthContext,
    id: string,
    context: { path?: string },
    action: (channel: DaemonChannel) => Promise<T>,
  ): Promise<T> {
    const channel = await this.channelOf(auth, id);
    try {
      return await action(channel);
    } catch (error) {
      throw channelApiError(error, { sandboxId: id, ...context });
    }
  }

  private files<T>(auth: AuthContext, id: string, path: string, action: (channel: DaemonChannel) => Promise<T>) {
    return this.onChannel(auth, id, { path }, action);
  }

  async readFile(auth: AuthContext, id: string, path: string): Promise<SandboxFile> {
    const content = await this.files(auth, id, path, (channel) => channel.readFileBuffer(path));
    return { path, content: content.toString('base64'), size: content.length };
  }

  async writeFile(
    auth: AuthContext,
    id: string,
    path: string,
    content: Buffer,
  ): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, path, (channel) => channel.writeFile(path, content));
    return { path, exists: true };
  }

  async listFiles(auth: AuthContext, id: string, path: string): Promise<SandboxFileEntry[]> {
    const entries = await this.files(auth, id, path, (channel) => channel.list(path));
    return entries
      .map(({ name, type, size, mode, modifiedAt }) => ({ name, type, size, mode, modifiedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async pathExists(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    const exists = await this.files(auth, id, path, (channel) =>
      channel.stat(path).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ChannelError && error.code === 'not_found') return false;
          throw error;
        },
      ),
    );
    return { path, exists };
  }

  async removePath(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    if (path.replace(/\/+$/, '') === '')
      throw new ApiError('validation_failed', 'refusing to remove the sandbox root', { path });
    await this.files(auth, id, path, (channel) =>
      channel.remove(path).catch((error: unknown) => {
        // Removing what is not there is done (like rm -f).
        if (!(error instanceof ChannelError && error.code === 'not_found')) throw error;
      }),
    );
    return { path, exists: false };
  }

  /** A file's bytes as a stream, read from the sandbox a megabyte at a time as the client takes them. */
  async downloadFile(auth: AuthContext, id: string, path: string) {
    const info = await this.files(auth, id, path, (channel) => channel.stat(path, true));
    if (info.type === 'dir') throw new ApiError('validation_failed', `${path} is a directory`, { path });
    const channel = await this.channelOf(auth, id);
    const size = info.size;
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (offset >= size) {
          controller.close();
          return;
        }
        const chunks: Buffer[] = [];
        await channel.readFile(path, (chunk) => chunks.push(chunk), {
          offset,
          length: Math.min(downloadChunkBytes, size - offset),
        });
        const chunk = Buffer.concat(chunks);
        if (chunk.length === 0) {
          // The file shrank while it was being sent: the response ends short, which the client sees.
          controller.error(new Error(`${path} shrank while it was being read`));
          return;
        }
        offset += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return { body, size, contentType: 'application/octet-stream' };
  }

  /**
   * Streams an upload into the sandbox: it lands in a temporary file renamed over the target when complete, so
   * an upload refused past the size limit, or cut off, leaves the old file as it was.
   */
  async uploadFile(
    auth: AuthContext,
    id: string,
    path: string,
    body: AsyncIterable<Uint8Array> | undefined,
    append: boolean,
  ): Promise<{ path: string; size: number }> {
    const limit = this.options.maxUploadBytes;
    let total = 0;
    const reader = body?.[Symbol.asyncIterator]();
    async function* chunks(): AsyncGenerator<Buffer> {
      if (!reader) return;
      for (;;) {
        const { done, value } = await reader.next();
        if (done) return;
        total += value.length;
        if (total > limit)
          throw new ApiError('payload_too_large', `the upload is larger than ${limit} bytes`, { maxBytes: limit });
        yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      }
    }
    try {
      const written = await this.files(auth, id, path, (channel) => channel.writeFile(path, chunks(), { append }));
      return { path, size: written.bytes };
    } catch (error) {
      // Refused part way (the sandbox's disk is full): read what the client is still sending, up to a point,
      // so that it gets this answer rather than a broken connection.
      if (reader && !(error instanceof ApiError && error.code === 'payload_too_large')) {
        let drained = 0;
        while (drained < uploadDrainBytes) {
          const next = await reader.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) break;
          drained += next.value.length;
        }
      }
      throw error;
    }
  }

  async statFile(auth: AuthContext, id: string, path: string) {
    const entry = await this.files(auth, id, path, (channel) => channel.stat(path));
    return {
      path: entry.path,
      name: entry.name,
      type: entry.type,
      size: entry.size,
      mode: entry.mode,
      modifiedAt: entry.modifiedAt,
      ...(entry.target ? { target: entry.target } : {}),
    };
  }

  async moveFile(auth: AuthContext, id: string, from: string, to: string): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, from, (channel) => channel.move(from, to));
    return { path: to, exists: true };
  }

  /** Filesystem events under a directory until the client goes away; answers once the watch is in place. */
  async watchFiles(
    auth: AuthContext,
    id: string,
    path: string,
    recursive: boolean,
  ): Promise<AsyncIterable<SandboxWatchEvent>> {
    const channel = await this.channelOf(auth, id);
    const events = new EventQueue<SandboxWatchEvent>(() => watcher.stop());
    const pending: SandboxWatchEvent[] = [];
    let started = false;
    const watcher = channel.watch(path, recursive, (event) => (started ? events.push(event) : pending.push(event)));
    watcher.done.then(
      () => events.end(),
      () => events.end(),
    );
    await watcher.ready;
    // A watch that failed to start (no such directory) is an error answer, not an empty stream.
    await Promise.race([
      watcher.done.then(
        () => {},
        (error: unknown) => {
          throw channelApiError(error, { sandboxId: id, path });
        },
      ),
      new Promise((resolve) => setTimeout(resolve, 0)),
    ]);
    events.push({ type: 'ready', path });
    started = true;
    for (const event of pending) events.push(event);
    return events;
  }

  async makeDirectory(auth: AuthContext, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, path, (channel) => channel.mkdir(path));
    return { path, exists: true };
  }

  async destroy(auth: AuthContext, id: string): Promise<Sandbox> {
    await this.row(auth, id);
    return this.serialised(id, async () => {
      const row = await this.row(auth, id);
      if (row.status === 'destroyed') return sandboxFromRow(row);
      await this.setStatus(id, 'destroying');
      const driver = this.drivers[row.runtime as DriverName];
      if (driver && row.host_id === this.hostId) await driver.destroy(id);
      this.lastActivity.delete(id);
      await this.setStatus(id, 'destroyed');
      // Its dev URLs go with it, custom subdomains included (free for others from now on).
      await this.db.deleteFrom('sandbox_urls').where('sandbox_id', '=', id).execute();
      await audit(this.db, { orgId: auth.orgId, event: 'sandbox.destroyed', actorKeyId: auth.keyId, targetId: id });
      return sandboxFromRow({ ...row, status: 'destroyed', status_reason: null, updated_at: nowIso() });
    });
  }
}
