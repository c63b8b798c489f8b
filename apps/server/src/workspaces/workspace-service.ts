import { mkdirSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChannelError, ConfinedTree } from '@runtools/runtime';
import { idPrefixes, type Workspace, type WorkspaceUsage } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import { type Actor, actingMember } from '../auth/actor.js';
import { isUniqueViolation } from '../db/database.js';
import { inPage, keysetPage, mapPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { projectFor } from '../tenancy/project-service.js';
import { slugify } from '../tenancy/tenancy.js';
import { WorkspaceFiles } from './workspace-files.js';

/** Where a workspace's files live. The embedded default: a directory per workspace in the data dir. */
export interface WorkspaceStorage {
  create(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** A host directory holding the workspace, for bind-mounting it into sandboxes. */
  hostPath(id: string): string;
  /**
   * Every workspace's files (`/<id>/…`), for everything the host does inside a workspace: sandboxes write
   * there, so nothing in it is ever reached by path from Node (see ConfinedTree).
   */
  readonly tree: ConfinedTree;
  close(): void;
}

export class LocalWorkspaceStorage implements WorkspaceStorage {
  readonly tree: ConfinedTree;

  /** `runDir`: a host-only directory (never bound into a sandbox) for the confined file server's socket. */
  constructor(
    private readonly root: string,
    runDir: string,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.tree = new ConfinedTree(root, runDir);
  }

  // Asynchronous calls: on a network file system (S3 storage) each one waits for the network.
  async create(id: string): Promise<void> {
    const path = this.hostPath(id);
    await mkdir(path, { recursive: true });
    // World-writable like /tmp, sticky: sandbox users other than root can use it too.
    await chmod(path, 0o1777);
  }

  async remove(id: string): Promise<void> {
    this.hostPath(id); // refuses anything but a workspace id
    await this.tree.remove(`/${id}`).catch((error: Error) => {
      if (!(error instanceof ChannelError && error.code === 'not_found')) throw error;
    });
  }

  close(): void {
    this.tree.close();
  }

  hostPath(id: string): string {
    if (!/^wsp_[a-z2-7]{20}$/.test(id)) throw new Error(`invalid workspace id ${id}`);
    return join(this.root, id);
  }
}

const workspaceIdPattern = new RegExp(`^${idPrefixes.workspace}_[a-z2-7]{20}$`);

function workspaceFromRow(row: Database['workspaces']): Workspace {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    kind: row.kind as Workspace['kind'],
    ownerMemberId: row.owner_member_id,
    projectId: row.project_id,
    createdAt: row.created_at,
  };
}

/**
 * Workspaces: org storage that outlives sandboxes. Org workspaces are visible to every member and mountable;
 * personal ones only to their owner and the org's admins, and never mounted. Every method takes a workspace by
 * id or by slug (slugs are unique per org). Another org's ids and slugs, and personal workspaces the caller may
 * not see, answer 404 like ones that do not exist.
 */
export class WorkspaceService {
  constructor(
    private readonly db: Kysely<Database>,
    readonly storage: WorkspaceStorage,
  ) {}

  /** Who sees a workspace (`list` asks the same in SQL). */
  private visible(auth: Actor, row: Database['workspaces']): boolean {
    return (
      row.kind === 'org' || row.owner_member_id === auth.member?.id || auth.role === 'owner' || auth.role === 'admin'
    );
  }

  /**
   * The workspace a caller names by id or by slug: the one place a slug becomes an id. A value shaped like an id
   * is only ever looked up as an id (no slug can have that shape). Another org's, and a personal one the caller
   * may not see, are not found.
   */
  async row(auth: Actor, ref: string): Promise<Database['workspaces']> {
    const row = await this.db
      .selectFrom('workspaces')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where(workspaceIdPattern.test(ref) ? 'id' : 'slug', '=', ref)
      .executeTakeFirst();
    if (!row || !this.visible(auth, row)) throw new DomainError('workspace_not_found', `no workspace ${ref}`);
    return row;
  }

  async create(
    auth: Actor,
    body: { name: string; slug?: string | undefined; kind?: 'org' | 'personal'; projectId?: string | undefined },
  ) {
    const kind = body.kind ?? 'org';
    const row: Database['workspaces'] = {
      id: newId('workspace'),
      org_id: auth.orgId,
      project_id: await projectFor(this.db, auth, body.projectId),
      name: body.name,
      slug: body.slug ?? slugify(body.name),
      kind,
      owner_member_id: kind === 'personal' ? actingMember(auth).id : null,
      created_at: nowIso(),
    };
    await this.storage.create(row.id);
    try {
      await this.db.insertInto('workspaces').values(row).execute();
    } catch (error) {
      await this.storage.remove(row.id);
      if (isUniqueViolation(error))
        throw new DomainError('workspace_exists', `a workspace with slug "${row.slug}" already exists`, {
          slug: row.slug,
        });
      throw error;
    }
    await audit(this.db, { orgId: auth.orgId, event: 'workspace.created', actor: auth.principal, targetId: row.id });
    return workspaceFromRow(row);
  }

  /** Oldest first: by creation time, then id; the personal ones the caller may see (`visible`, in SQL). */
  async list(auth: Actor, page: PageRequest & { projectId?: string | undefined }): Promise<Page<Workspace>> {
    let select = this.db.selectFrom('workspaces').selectAll().where('org_id', '=', auth.orgId);
    if (page.projectId !== undefined) select = select.where('project_id', '=', page.projectId);
    if (auth.role !== 'owner' && auth.role !== 'admin') {
      const memberId = auth.member?.id;
      select = select.where((where) =>
        memberId === undefined
          ? where('kind', '=', 'org')
          : where.or([where('kind', '=', 'org'), where('owner_member_id', '=', memberId)]),
      );
    }
    const rows = await keysetPage(
      page,
      oldestFirst,
      (row: Database['workspaces']) => [row.created_at, row.id],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, workspaceFromRow);
  }

  async get(auth: Actor, ref: string): Promise<Workspace> {
    return workspaceFromRow(await this.row(auth, ref));
  }

  /** A new name, another project of the org, or both. */
  async rename(
    auth: Actor,
    ref: string,
    body: { name?: string | undefined; projectId?: string | undefined },
  ): Promise<Workspace> {
    const row = await this.row(auth, ref);
    const changed = {
      name: body.name ?? row.name,
      project_id: body.projectId === undefined ? row.project_id : await projectFor(this.db, auth, body.projectId),
    };
    await this.db.updateTable('workspaces').set(changed).where('id', '=', row.id).execute();
    return workspaceFromRow({ ...row, ...changed });
  }

  async delete(auth: Actor, ref: string): Promise<{ id: string; deleted: true }> {
    const row = await this.row(auth, ref);
    const id = row.id;
    const users = await this.db
      .selectFrom('sandboxes')
      .select(['id', 'mounts'])
      .where('org_id', '=', auth.orgId)
      .where('status', 'not in', ['destroyed', 'failed'])
      .execute();
    const mountedBy = users
      .filter((sandbox) => (JSON.parse(sandbox.mounts) as { workspaceId: string }[]).some((m) => m.workspaceId === id))
      .map((sandbox) => sandbox.id);
    if (mountedBy.length > 0) {
      throw new DomainError(
        'workspace_in_use',
        `workspace ${id} is mounted by ${mountedBy.join(', ')}; destroy those first`,
        {
          sandboxes: mountedBy,
        },
      );
    }
    await this.db.deleteFrom('workspaces').where('id', '=', row.id).execute();
    await this.storage.remove(row.id);
    await audit(this.db, { orgId: auth.orgId, event: 'workspace.deleted', actor: auth.principal, targetId: row.id });
    return { id: row.id, deleted: true };
  }

  /** Counted server-side now, by descriptors, without following symlinks. */
  async usage(auth: Actor, ref: string): Promise<WorkspaceUsage> {
    const row = await this.row(auth, ref);
    return this.storage.tree.usage(`/${row.id}`);
  }

  /** The files of a workspace the caller may see. */
  async files(auth: Actor, ref: string): Promise<WorkspaceFiles> {
    const row = await this.row(auth, ref);
    return new WorkspaceFiles(this.storage.tree, row.id);
  }

  /**
   * The host directories of the mounts a sandbox asks for: org workspaces of the caller's org (by id or slug;
   * what comes back names each by id, which is what a sandbox records), one per path.
   */
  async resolveMounts(
    auth: Actor,
    mounts: readonly { workspaceId: string; path?: string | undefined }[],
  ): Promise<{ workspaceId: string; path: string; hostPath: string }[]> {
    const resolved: { workspaceId: string; path: string; hostPath: string }[] = [];
    for (const mount of mounts) {
      const path = mount.path ?? '/workspace';
      const row = await this.row(auth, mount.workspaceId);
      if (row.kind !== 'org') {
        throw new DomainError('workspace_not_mountable', `workspace ${row.id} is personal; only org workspaces mount`, {
          workspaceId: row.id,
        });
      }
      if (resolved.some((other) => other.path === path)) {
        throw new DomainError('validation_failed', `two mounts at ${path}`, { path });
      }
      resolved.push({ workspaceId: row.id, path, hostPath: this.storage.hostPath(row.id) });
    }
    // Parents first, so a mount under another lands inside it.
    return resolved.sort((a, b) => a.path.length - b.path.length);
  }
}
