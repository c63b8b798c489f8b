import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, snapshotSpec } from '@runtools/runtime';
import type { Sandbox, SandboxRuntime, SandboxSnapshot, SandboxStatus } from '@runtools/spec';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { inPage, keysetPage, mapPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { type SandboxContext, sandboxFromRow } from './sandbox-context.js';
import type { SandboxLifecycle } from './sandbox-lifecycle.js';

export type SandboxBranchInput = {
  snapshot: string;
  name?: string | undefined;
  metadata?: Record<string, string> | undefined;
  idleTimeout?: number | undefined;
  autoResume?: boolean | undefined;
};

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

/**
 * Snapshots of a sandbox, kept on this host's disk: take, list, delete, roll back to one in place, or branch a
 * new sandbox from one (created through the lifecycle, like any other). Taking, deleting and rolling back queue
 * with the sandbox's other lifecycle changes.
 */
export class SandboxSnapshots {
  constructor(
    private readonly context: SandboxContext,
    private readonly lifecycle: SandboxLifecycle,
  ) {}

  /** Where a snapshot's files are kept. */
  private snapshotDir(id: string): string {
    return join(this.context.options.dataDir, 'snapshots', id);
  }

  /**
   * Takes a snapshot of a running or paused sandbox. Recorded as `creating` first and listed only once its
   * directory is complete (written under `.partial`, then renamed), so a crash leaves nothing half-listed.
   */
  async createSnapshot(auth: Actor, id: string, body: { name?: string | undefined }): Promise<SandboxSnapshot> {
    await this.context.row(auth, id);
    return this.context.serialised(id, async () => {
      const row = await this.context.row(auth, id);
      if (row.status !== 'running' && row.status !== 'paused')
        throw new DomainError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a running or paused sandbox can be snapshotted`,
          { status: row.status },
        );
      const driver = this.context.driver(row.runtime as SandboxRuntime);
      // What the snapshot will hold is not known before it is taken; an org already at its quota takes none.
      await this.context.options.storage.ensure(auth, 1, 'a snapshot');
      if (body.name && (await this.snapshotRow(auth, id, body.name).catch(() => undefined)))
        throw new DomainError('snapshot_exists', `sandbox ${id} already has a snapshot named ${body.name}`, {
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
        host_id: this.context.hostId,
        created_at: nowIso(),
      };
      await this.context.db.insertInto('sandbox_snapshots').values(snapshot).execute();
      const dir = this.snapshotDir(snapshot.id);
      let memory: boolean;
      try {
        ({ memory } = await driver.snapshot(id, `${dir}.partial`));
        renameSync(`${dir}.partial`, dir);
      } catch (error) {
        rmSync(`${dir}.partial`, { recursive: true, force: true });
        await this.context.db.deleteFrom('sandbox_snapshots').where('id', '=', snapshot.id).execute();
        throw new DomainError('runtime_unavailable', `the snapshot failed: ${(error as Error).message}`, {
          sandboxId: id,
        });
      }
      const sizeBytes = await directoryBytes(dir);
      await this.context.db
        .updateTable('sandbox_snapshots')
        .set({ status: 'ready', memory: memory ? 1 : 0, size_bytes: sizeBytes })
        .where('id', '=', snapshot.id)
        .execute();
      await this.context.log.append(id, {
        type: 'snapshot',
        message: `snapshot ${snapshot.id}${snapshot.name ? ` (${snapshot.name})` : ''} taken${memory ? '' : ', files only'}`,
        data: { snapshotId: snapshot.id, memory, sizeBytes },
      });
      await audit(this.context.db, {
        orgId: auth.orgId,
        event: 'sandbox.snapshot_created',
        actor: auth.principal,
        targetId: snapshot.id,
        details: { sandboxId: id, memory },
      });
      return snapshotFromRow({ ...snapshot, status: 'ready', memory: memory ? 1 : 0, size_bytes: sizeBytes });
    });
  }

  /** Oldest first: by creation time, then id. */
  async listSnapshots(auth: Actor, id: string, page: PageRequest): Promise<Page<SandboxSnapshot>> {
    await this.context.row(auth, id);
    const select = this.context.db
      .selectFrom('sandbox_snapshots')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('sandbox_id', '=', id)
      .where('status', '=', 'ready');
    const rows = await keysetPage(
      page,
      oldestFirst,
      (row: Database['sandbox_snapshots']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, snapshotFromRow);
  }

  /** A ready snapshot of the sandbox, by id or name. */
  private async snapshotRow(auth: Actor, sandboxId: string, ref: string) {
    const row = await this.context.db
      .selectFrom('sandbox_snapshots')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('sandbox_id', '=', sandboxId)
      .where('status', '=', 'ready')
      .where(ref.startsWith('snp_') ? 'id' : 'name', '=', ref)
      .executeTakeFirst();
    if (!row)
      throw new DomainError('snapshot_not_found', `sandbox ${sandboxId} has no snapshot ${ref}`, { snapshot: ref });
    return row;
  }

  async deleteSnapshot(auth: Actor, id: string, snapshotId: string): Promise<{ id: string; deleted: true }> {
    await this.context.row(auth, id);
    return this.context.serialised(id, async () => {
      const snapshot = await this.snapshotRow(auth, id, snapshotId);
      // Marked first: a crash mid-delete is finished by recovery, never listed half-gone.
      await this.context.db
        .updateTable('sandbox_snapshots')
        .set({ status: 'deleting' })
        .where('id', '=', snapshot.id)
        .execute();
      rmSync(this.snapshotDir(snapshot.id), { recursive: true, force: true });
      await this.context.db.deleteFrom('sandbox_snapshots').where('id', '=', snapshot.id).execute();
      await audit(this.context.db, {
        orgId: auth.orgId,
        event: 'sandbox.snapshot_deleted',
        actor: auth.principal,
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
  async rollback(auth: Actor, id: string, body: { snapshot: string }): Promise<Sandbox> {
    await this.context.row(auth, id);
    return this.context.serialised(id, async () => {
      const row = await this.context.row(auth, id);
      const snapshot = await this.snapshotRow(auth, id, body.snapshot);
      if (row.status !== 'running' && row.status !== 'paused')
        throw new DomainError(
          'invalid_transition',
          `sandbox ${id} is ${row.status}; only a running or paused sandbox can roll back`,
          {
            status: row.status,
          },
        );
      this.context.driver(row.runtime as SandboxRuntime);
      const from = row.status as SandboxStatus;
      if (!(await this.context.transition(id, [from], 'resuming', `rolling back to ${snapshot.id}`)))
        throw new DomainError('invalid_transition', `sandbox ${id} changed state; try again`);
      await this.rollbackTo(row, snapshot.id);
      await audit(this.context.db, {
        orgId: auth.orgId,
        event: 'sandbox.rolled_back',
        actor: auth.principal,
        targetId: id,
        details: { snapshotId: snapshot.id },
      });
      return sandboxFromRow(await this.context.row(auth, id));
    });
  }

  /**
   * The driver's rollback and what follows it; a sandbox that cannot be brought back is `error`. Recovery
   * calls it too, to redo a rollback a restart interrupted.
   */
  async rollbackTo(row: Database['sandboxes'], snapshotId: string): Promise<void> {
    const driver = this.context.driver(row.runtime as SandboxRuntime);
    let memory: boolean;
    try {
      ({ memory } = await driver.rollback(row.id, this.snapshotDir(snapshotId)));
      await this.context.db.updateTable('sandboxes').set({ paused_to: null }).where('id', '=', row.id).execute();
      const start = memory ? undefined : await this.context.templateStart(row);
      if (start) await this.context.runStart(driver, row.id, start);
    } catch (error) {
      await this.context.setStatus(row.id, 'error', `rollback failed: ${(error as Error).message}`);
      throw new DomainError('runtime_unavailable', `the rollback failed: ${(error as Error).message}`, {
        sandboxId: row.id,
      });
    }
    this.context.lastActivity.set(row.id, Date.now());
    await this.context.transition(
      row.id,
      ['resuming'],
      'running',
      `rolled back to ${snapshotId}${memory ? '' : ' (files only: processes started afresh)'}`,
    );
  }

  /**
   * A new sandbox from a snapshot: the source's template, runtime, resources, network and mounts, its
   * files and (from a memory snapshot) its processes. The two are independent from then on.
   */
  async branch(auth: Actor, id: string, body: SandboxBranchInput): Promise<Sandbox> {
    const source = await this.context.row(auth, id);
    const snapshot = await this.snapshotRow(auth, id, body.snapshot);
    const dir = this.snapshotDir(snapshot.id);
    const mounts = await this.context.options.workspaces.resolveMounts(
      auth,
      JSON.parse(source.mounts) as { workspaceId: string; path: string }[],
    );
    const now = nowIso();
    const row: Database['sandboxes'] = {
      ...source,
      id: newId('sandbox'),
      name: body.name ?? null,
      host_id: this.context.hostId,
      status: 'creating',
      status_reason: null,
      metadata: JSON.stringify(body.metadata ?? JSON.parse(source.metadata)),
      idle_timeout: body.idleTimeout ?? source.idle_timeout,
      auto_resume: body.autoResume === undefined ? source.auto_resume : body.autoResume ? 1 : 0,
      // A sandbox from before disk limits were the default branches with one.
      disk_bytes: source.disk_bytes ?? this.context.options.defaultDiskBytes,
      paused_to: null,
      created_at: now,
      updated_at: now,
    };
    const release = await this.context.options.storage.reserve(
      auth,
      row.id,
      Number(row.disk_bytes),
      'a branch with this disk',
    );
    const branched = await this.lifecycle
      .launch(auth, row, mounts, `creating (branch of ${id} from ${snapshot.id})`, async () => {
        const spec = snapshotSpec(dir);
        return {
          ...spec,
          snapshot: dir,
          start: Number(snapshot.memory) === 1 ? undefined : await this.context.templateStart(source),
        };
      })
      .finally(release);
    await audit(this.context.db, {
      orgId: auth.orgId,
      event: 'sandbox.branched',
      actor: auth.principal,
      targetId: row.id,
      details: { sandboxId: id, snapshotId: snapshot.id },
    });
    return branched;
  }

  /** Snapshots a restart caught half-taken or half-deleted are removed: only whole ones are ever listed. */
  async recover(): Promise<void> {
    const rows = await this.context.db
      .selectFrom('sandbox_snapshots')
      .select('id')
      .where('host_id', '=', this.context.hostId)
      .where('status', 'in', ['creating', 'deleting'])
      .execute();
    for (const row of rows) {
      const dir = this.snapshotDir(row.id);
      for (const path of [dir, `${dir}.partial`]) rmSync(path, { recursive: true, force: true });
      await this.context.db.deleteFrom('sandbox_snapshots').where('id', '=', row.id).execute();
    }
  }
}
