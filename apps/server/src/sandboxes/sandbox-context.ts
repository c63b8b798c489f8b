import { hostname } from 'node:os';
import { join } from 'node:path';
import { availableDrivers, type DriverName, type SandboxDriver } from '@runtools/runtime';
import type { Sandbox, SandboxRuntime, SandboxStatus } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/actor.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import type { TemplateService } from '../templates/template-service.js';
import type { StorageQuota } from '../usage/storage-quota.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';
import { SandboxLogWriter } from './sandbox-logs.js';

export type PausedTo = 'disk' | 'memory' | 'filesystem';

export type SandboxServiceOptions = {
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
};

export function sandboxFromRow(row: Database['sandboxes']): Sandbox {
  return {
    id: row.id,
    name: row.name,
    projectId: row.project_id,
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

/**
 * What the sandbox services share, and the only state they share: the database, this host's drivers, the
 * per-sandbox lifecycle queue, the status writes (which keep the running-sandbox cache honest), activity
 * times and the log. One instance per server, handed to each service; no service holds another's state.
 */
export class SandboxContext {
  readonly hostId: string;
  /** The drivers this host can run, and why each missing one cannot. */
  readonly drivers: Partial<Record<DriverName, SandboxDriver>>;
  private readonly missing: Partial<Record<DriverName, string>>;
  readonly log: SandboxLogWriter;
  /** When each sandbox last saw exec, file or process activity (ms since the epoch). */
  readonly lastActivity = new Map<string, number>();
  private readonly lifecycle = new Map<string, Promise<void>>();
  /**
   * Sandboxes this process has seen running, and with what: exec, file and dev-URL calls to them skip the
   * database. Any status change drops the entry (and bumps the sandbox's generation, so that a read that
   * raced with the change cannot put a stale one back).
   */
  readonly knownRunning = new Map<string, { orgId: string; runtime: SandboxRuntime }>();
  private readonly statusGeneration = new Map<string, number>();

  constructor(
    readonly db: Kysely<Database>,
    readonly options: SandboxServiceOptions,
  ) {
    const found = availableDrivers(join(options.dataDir, 'sandboxes'));
    this.drivers = found.drivers;
    this.missing = found.missing;
    this.hostId = `${hostname()}:${options.dataDir}`;
    this.log = new SandboxLogWriter(db);
  }

  driver(runtime: SandboxRuntime): SandboxDriver {
    const driver = this.drivers[runtime];
    if (!driver) {
      throw new DomainError(
        'runtime_unavailable',
        `the ${runtime} runtime cannot run on this server: ${this.missing[runtime]}`,
        {
          runtime,
        },
      );
    }
    return driver;
  }

  /** The sandbox's status generation: compare before and after a read to know no status change raced it. */
  generation(id: string): number | undefined {
    return this.statusGeneration.get(id);
  }

  /** Forgets that a sandbox runs: called before any status change is written. */
  private statusChanging(id: string): void {
    this.knownRunning.delete(id);
    this.statusGeneration.set(id, (this.statusGeneration.get(id) ?? 0) + 1);
  }

  async setStatus(id: string, status: SandboxStatus, reason: string | null = null): Promise<void> {
    this.statusChanging(id);
    await this.db
      .updateTable('sandboxes')
      .set({ status, status_reason: reason, updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
    await this.log.append(id, { type: 'status', status, message: reason ? `${status}: ${reason}` : status });
  }

  /** Moves a sandbox from one of `from` to `to`; false (and nothing written) when it was in none of them. */
  async transition(
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
    await this.log.append(id, { type: 'status', status: to, message: reason ? `${to}: ${reason}` : to });
    return true;
  }

  /**
   * One lifecycle change at a time per sandbox (pause, resume, destroy, idle pause, snapshot, rollback):
   * whichever service asks, they queue on the same promise.
   */
  serialised<T>(id: string, work: () => Promise<T>): Promise<T> {
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

  /** The lifecycle change under way on a sandbox (settled, never rejected), if any. */
  changing(id: string): Promise<void> | undefined {
    return this.lifecycle.get(id);
  }

  row(auth: Actor, id: string): Promise<Database['sandboxes']> {
    return this.rowInOrg(auth.orgId, id);
  }

  async rowInOrg(orgId: string, id: string): Promise<Database['sandboxes']> {
    const row = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new DomainError('sandbox_not_found', `no sandbox ${id}`);
    return row;
  }

  /** Starts a template's start command in the background. */
  async runStart(driver: SandboxDriver, id: string, command: string): Promise<void> {
    const pid = await driver.channel(id).spawn({ argv: ['/bin/sh', '-c', command] });
    await this.log.append(id, { type: 'process', message: `started ${pid}: ${command}`, data: { pid } });
  }

  /** The start command of the sandbox's template, when it has one and the template still exists. */
  async templateStart(row: Database['sandboxes']): Promise<string | undefined> {
    const template = await this.options.templates.describe(row.org_id, row.template).catch(() => undefined);
    return template?.start ?? undefined;
  }
}
