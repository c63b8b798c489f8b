import type { DriverName } from '@runtools/runtime';
import type { Sandbox, SandboxRuntime, SandboxStats } from '@runtools/spec';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { afterKey, inPage, keysetPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { projectFor } from '../tenancy/project-service.js';
import { parseByteSize } from './byte-size.js';
import { type PausedTo, type SandboxContext, type SandboxServiceOptions, sandboxFromRow } from './sandbox-context.js';

const defaultMemoryBytes = 1024 ** 3;
const minMemoryBytes = 64 * 1024 ** 2;
const defaultVcpus = 1;
/** Seconds without activity before a sandbox is paused (Daytona's auto-stop default is 15 minutes). */
export const defaultIdleTimeoutSeconds = 900;

export type SandboxCreateInput = {
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
  /** Default: the org's default project. */
  projectId?: string | undefined;
};

/** What a new sandbox starts from: a template's layers, or a snapshot. */
export type LaunchSource = {
  layers: readonly string[];
  env: Record<string, string>;
  workdir?: string | undefined;
  start?: string | undefined;
  snapshot?: string;
};

/** A disk size from the API: at least 64 MiB (an ext4 layer smaller than that is of no use), at most 16 TiB. */
function diskBytes(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes < 64 * 1024 ** 2 || bytes > 16 * 1024 ** 4)
    throw new DomainError('validation_failed', `invalid body.resources.disk: between 64MB and 16TB, got ${text}`, {
      field: 'resources.disk',
    });
  return bytes;
}

/**
 * A sandbox's life: create, read, pause (by a caller or the idle sweep), resume, destroy, and its usage. Every
 * change runs in the context's per-sandbox queue, and its status is written before and after the driver acts,
 * so a crash leaves a truthful `creating`, `pausing` or `destroying` behind for recovery to settle.
 */
export class SandboxLifecycle {
  private readonly options: SandboxServiceOptions;

  constructor(private readonly context: SandboxContext) {
    this.options = context.options;
  }

  async create(auth: Actor, body: SandboxCreateInput): Promise<Sandbox> {
    const templateName = body.template ?? this.options.defaultTemplate;
    // Unknown templates and workspaces are refused before anything is written.
    await this.options.templates.get(auth, templateName);
    const mounts = await this.options.workspaces.resolveMounts(auth, body.mounts ?? []);
    const projectId = await projectFor(this.context.db, auth, body.projectId);
    const runtime = body.runtime ?? this.options.defaultRuntime;
    this.context.driver(runtime);
    const now = nowIso();
    const row: Database['sandboxes'] = {
      id: newId('sandbox'),
      org_id: auth.orgId,
      project_id: projectId,
      name: body.name ?? null,
      template: templateName,
      runtime,
      host_id: this.context.hostId,
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
      throw new DomainError(
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
      throw new DomainError('validation_failed', `invalid body.resources.memory: at least 64MiB, got ${asked}`, {
        field: 'resources.memory',
      });
    if (bytes > this.options.maxMemoryBytes)
      throw new DomainError(
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
  async launch(
    auth: Actor,
    row: Database['sandboxes'],
    mounts: { hostPath: string; path: string }[],
    message: string,
    prepare: () => Promise<LaunchSource>,
  ): Promise<Sandbox> {
    const driver = this.context.driver(row.runtime as SandboxRuntime);
    await this.context.db.insertInto('sandboxes').values(row).execute();
    await this.context.log.append(row.id, { type: 'status', status: 'creating', message });
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
      if (from.start) await this.context.runStart(driver, row.id, from.start);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.context.setStatus(row.id, 'failed', reason);
      if (error instanceof DomainError) throw error;
      this.options.logger.error({ err: error, sandboxId: row.id }, 'sandbox failed to start');
      throw new DomainError('runtime_unavailable', `the sandbox failed to start: ${reason}`, { sandboxId: row.id });
    }
    await this.context.setStatus(row.id, 'running');
    await audit(this.context.db, {
      orgId: auth.orgId,
      event: 'sandbox.created',
      actor: auth.principal,
      targetId: row.id,
      details: { runtime: row.runtime },
    });
    return sandboxFromRow({ ...row, status: 'running', updated_at: nowIso() });
  }

  async get(auth: Actor, id: string): Promise<Sandbox> {
    return sandboxFromRow(await this.context.row(auth, id));
  }

  /**
   * Oldest first: by creation time, then id. Metadata is JSON text, matched here rather than in SQL: with
   * `metadata.<key>` filters the rows are read on in batches of a page until the page is full.
   */
  async list(auth: Actor, query: Record<string, unknown>, page: PageRequest): Promise<Page<Sandbox>> {
    let select = this.context.db.selectFrom('sandboxes').selectAll().where('org_id', '=', auth.orgId);
    // Destroyed sandboxes stay readable by id, but lists show them only when asked for by status.
    select =
      typeof query.status === 'string'
        ? select.where('status', '=', query.status)
        : select.where('status', '!=', 'destroyed');
    if (typeof query.projectId === 'string') select = select.where('project_id', '=', query.projectId);
    const wanted = Object.entries(query)
      .filter(([key, value]) => key.startsWith('metadata.') && typeof value === 'string')
      .map(([key, value]) => [key.slice('metadata.'.length), value as string] as const);
    const matches = (sandbox: Sandbox) => wanted.every(([key, value]) => sandbox.metadata[key] === value);
    return keysetPage(
      page,
      oldestFirst,
      (sandbox: Sandbox) => [sandbox.createdAt, sandbox.id],
      async ({ after, order, fetch }) => {
        const found: Sandbox[] = [];
        for (let from = after; ; ) {
          const rows = await inPage(select, { after: from, order, fetch }).execute();
          found.push(...rows.map(sandboxFromRow).filter(matches));
          const last = rows.at(-1);
          if (found.length >= fetch || rows.length < fetch || !last) return found.slice(0, fetch);
          from = afterKey(order, [last.created_at, last.id]);
        }
      },
    );
  }

  /** The org of a sandbox, for the dev-URL proxy, which finds it by its host name; undefined when unknown. */
  async orgOf(id: string): Promise<string | undefined> {
    const row = await this.context.db.selectFrom('sandboxes').select('org_id').where('id', '=', id).executeTakeFirst();
    return row?.org_id;
  }

  /** Usage from the host's side, plus the process count from inside when the sandbox runs. */
  async stats(auth: Actor, id: string): Promise<SandboxStats> {
    const row = await this.context.row(auth, id);
    if (row.status !== 'running' && row.status !== 'paused') {
      throw new DomainError(
        'sandbox_not_running',
        `sandbox ${id} is ${row.status}; stats need a running or paused one`,
        {
          status: row.status,
        },
      );
    }
    const driver = this.context.driver(row.runtime as SandboxRuntime);
    const usage = await driver.stats(id).catch((error: Error) => {
      throw new DomainError('sandbox_unreachable', `cannot read the usage of sandbox ${id}: ${error.message}`);
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

  async pause(auth: Actor, id: string, to?: PausedTo): Promise<Sandbox> {
    return this.pauseInOrg(auth.orgId, id, null, to);
  }

  /**
   * Pauses a sandbox of an org: for a caller, or for the idle sweep, which acts for no one in particular. By
   * default to disk where the runtime can checkpoint (gVisor), else frozen in memory (crun); `filesystem`
   * stops it keeping its files. What it became is written with `pausing`, so recovery knows what was meant.
   */
  private async pauseInOrg(orgId: string, id: string, reason: string | null, wanted?: PausedTo): Promise<Sandbox> {
    await this.context.rowInOrg(orgId, id);
    return this.context.serialised(id, async () => {
      const row = await this.context.rowInOrg(orgId, id);
      if (row.status === 'paused') return sandboxFromRow(row);
      if (row.status !== 'running')
        throw new DomainError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a running sandbox can pause`,
          {
            status: row.status,
          },
        );
      const driver = this.context.driver(row.runtime as SandboxRuntime);
      const to = wanted ?? (driver.pauseToDisk ? 'disk' : 'memory');
      if (to === 'disk' && !driver.pauseToDisk)
        throw new DomainError(
          'validation_failed',
          `the ${row.runtime} runtime cannot save processes to disk here; pause to memory or filesystem`,
          { field: 'to' },
        );
      await this.context.db.updateTable('sandboxes').set({ paused_to: to }).where('id', '=', id).execute();
      if (!(await this.context.transition(id, ['running'], 'pausing')))
        return sandboxFromRow(await this.context.rowInOrg(orgId, id));
      try {
        if (to === 'disk') await driver.pauseToDisk?.(id);
        else if (to === 'filesystem') await driver.shutdown(id);
        else await driver.pause(id);
      } catch (error) {
        await this.context.setStatus(id, 'error', `pause failed: ${(error as Error).message}`);
        throw new DomainError('runtime_unavailable', `the sandbox could not be paused: ${(error as Error).message}`);
      }
      await this.context.transition(id, ['pausing'], 'paused', reason);
      return sandboxFromRow(await this.context.rowInOrg(orgId, id));
    });
  }

  async resume(auth: Actor, id: string): Promise<Sandbox> {
    return this.resumeInOrg(auth.orgId, id);
  }

  /** Resumes a sandbox of an org: for a caller, or before a call to a paused sandbox with `autoResume`. */
  async resumeInOrg(orgId: string, id: string): Promise<Sandbox> {
    await this.context.rowInOrg(orgId, id);
    return this.context.serialised(id, async () => {
      const row = await this.context.rowInOrg(orgId, id);
      if (row.status === 'running') return sandboxFromRow(row);
      if (row.status !== 'paused')
        throw new DomainError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a paused sandbox can resume`,
          {
            status: row.status,
          },
        );
      const driver = this.context.driver(row.runtime as SandboxRuntime);
      if (!(await this.context.transition(id, ['paused'], 'resuming')))
        return sandboxFromRow(await this.context.rowInOrg(orgId, id));
      try {
        if (row.paused_to === 'disk') await driver.resumeFromDisk?.(id);
        else if (row.paused_to === 'filesystem') {
          await driver.boot(id);
          const start = await this.context.templateStart(row);
          if (start) await this.context.runStart(driver, id, start);
        } else await driver.resume(id);
      } catch (error) {
        await this.context.setStatus(id, 'error', `resume failed: ${(error as Error).message}`);
        throw new DomainError('runtime_unavailable', `the sandbox could not be resumed: ${(error as Error).message}`);
      }
      this.context.lastActivity.set(id, Date.now());
      await this.context.transition(id, ['resuming'], 'running');
      return sandboxFromRow(await this.context.rowInOrg(orgId, id));
    });
  }

  async destroy(auth: Actor, id: string): Promise<Sandbox> {
    await this.context.row(auth, id);
    return this.context.serialised(id, async () => {
      const row = await this.context.row(auth, id);
      if (row.status === 'destroyed') return sandboxFromRow(row);
      await this.context.setStatus(id, 'destroying');
      const driver = this.context.drivers[row.runtime as DriverName];
      if (driver && row.host_id === this.context.hostId) await driver.destroy(id);
      this.context.lastActivity.delete(id);
      await this.context.setStatus(id, 'destroyed');
      // Its dev URLs go with it, custom subdomains included (free for others from now on).
      await this.context.db.deleteFrom('sandbox_urls').where('sandbox_id', '=', id).execute();
      await audit(this.context.db, {
        orgId: auth.orgId,
        event: 'sandbox.destroyed',
        actor: auth.principal,
        targetId: id,
      });
      return sandboxFromRow({ ...row, status: 'destroyed', status_reason: null, updated_at: nowIso() });
    });
  }

  /** Pauses running sandboxes of this host that have been idle longer than their idle timeout. */
  async pauseIdle(): Promise<number> {
    const rows = await this.context.db
      .selectFrom('sandboxes')
      .select(['id', 'org_id', 'idle_timeout', 'updated_at'])
      .where('host_id', '=', this.context.hostId)
      .where('status', '=', 'running')
      .where('idle_timeout', '>', 0)
      .execute();
    let paused = 0;
    const now = Date.now();
    for (const row of rows) {
      const last = this.context.lastActivity.get(row.id) ?? Date.parse(row.updated_at);
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
}
