import type { Project } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { isForeignKeyViolation, isUniqueViolation } from '../db/database.js';
import { inPage, keysetPage, mapPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { projectFromRow, slugify } from './tenancy.js';

/** The tables whose rows belong to a project, and one of each as a 409 on deleting a project names it. */
const projectTables = {
  sandboxes: 'sandbox',
  workspaces: 'workspace',
  agents: 'agent',
  workflows: 'workflow',
} as const;

/**
 * The project a new or moved resource goes in: `projectId` when it is one of the actor's org (404
 * `project_not_found` otherwise, the same for another org's project as for none), else the org's default.
 */
export async function projectFor(db: Kysely<Database>, auth: Actor, projectId?: string | undefined): Promise<string> {
  let select = db.selectFrom('projects').select('id').where('org_id', '=', auth.orgId);
  select = projectId === undefined ? select.where('is_default', '=', 1) : select.where('id', '=', projectId);
  const row = await select.executeTakeFirst();
  if (!row) throw new DomainError('project_not_found', `no project ${projectId}`, { projectId });
  return row.id;
}

/** Projects: a grouping inside an org; each org has a default one, which cannot be deleted. */
export class ProjectService {
  constructor(private readonly db: Kysely<Database>) {}

  /** Oldest first: by creation time, then id. */
  async list(auth: Actor, page: PageRequest): Promise<Page<Project>> {
    const rows = await keysetPage(
      page,
      oldestFirst,
      (row: Database['projects']) => [row.created_at, row.id],
      (keyset) => inPage(this.db.selectFrom('projects').selectAll().where('org_id', '=', auth.orgId), keyset).execute(),
    );
    return mapPage(rows, projectFromRow);
  }

  /** The org's default project (every org has one from its creation). */
  defaultProject(orgId: string): Promise<{ id: string; name: string; slug: string }> {
    return this.db
      .selectFrom('projects')
      .select(['id', 'name', 'slug'])
      .where('org_id', '=', orgId)
      .where('is_default', '=', 1)
      .executeTakeFirstOrThrow();
  }

  async create(auth: Actor, body: { name: string; slug?: string | undefined }): Promise<Project> {
    const row: Database['projects'] = {
      id: newId('project'),
      org_id: auth.orgId,
      name: body.name,
      slug: body.slug ?? slugify(body.name),
      is_default: 0,
      created_at: nowIso(),
    };
    try {
      await this.db.insertInto('projects').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new DomainError('project_exists', `a project with slug "${row.slug}" already exists`, { slug: row.slug });
      }
      throw error;
    }
    await audit(this.db, { orgId: auth.orgId, event: 'project.created', actor: auth.principal, targetId: row.id });
    return projectFromRow(row);
  }

  async get(auth: Actor, projectId: string): Promise<Project> {
    return projectFromRow(await this.row(auth, projectId));
  }

  async update(auth: Actor, projectId: string, body: { name: string }): Promise<Project> {
    const row = await this.row(auth, projectId);
    await this.db.updateTable('projects').set({ name: body.name }).where('id', '=', row.id).execute();
    await audit(this.db, { orgId: auth.orgId, event: 'project.updated', actor: auth.principal, targetId: row.id });
    return projectFromRow({ ...row, name: body.name });
  }

  async delete(auth: Actor, projectId: string): Promise<{ id: string; deleted: true }> {
    const row = await this.row(auth, projectId);
    if (row.is_default === 1) throw new DomainError('default_project', 'the default project cannot be deleted');
    // A project is deleted only empty: its resources are never dropped or moved behind the caller's back.
    // Destroyed sandboxes (kept for their history) do not count.
    const held: Record<string, number> = {};
    for (const table of Object.keys(projectTables) as (keyof typeof projectTables)[]) {
      let select = this.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('org_id', '=', auth.orgId)
        .where('project_id', '=', row.id);
      if (table === 'sandboxes') select = select.where('status', '!=', 'destroyed');
      const count = Number((await select.executeTakeFirstOrThrow()).count);
      if (count > 0) held[table] = count;
    }
    if (Object.keys(held).length > 0) {
      const what = Object.entries(held)
        .map(([table, count]) => `${count} ${count === 1 ? projectTables[table as keyof typeof projectTables] : table}`)
        .join(', ');
      throw new DomainError(
        'project_not_empty',
        `project ${row.slug} still holds ${what}: move or delete them first`,
        held,
      );
    }
    try {
      await this.db.transaction().execute(async (trx) => {
        // Destroyed sandboxes are history: they go to the default project rather than keep this one.
        const home = await projectFor(trx, auth);
        await trx
          .updateTable('sandboxes')
          .set({ project_id: home })
          .where('org_id', '=', auth.orgId)
          .where('project_id', '=', row.id)
          .where('status', '=', 'destroyed')
          .execute();
        await trx.deleteFrom('projects').where('id', '=', row.id).execute();
      });
    } catch (error) {
      // Something was made in it since the count: the rows' reference to it refuses the delete.
      if (isForeignKeyViolation(error))
        throw new DomainError('project_not_empty', `project ${row.slug} got new resources meanwhile: try again`);
      throw error;
    }
    await audit(this.db, { orgId: auth.orgId, event: 'project.deleted', actor: auth.principal, targetId: row.id });
    return { id: row.id, deleted: true };
  }

  private async row(auth: Actor, projectId: string) {
    const row = await this.db
      .selectFrom('projects')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('id', '=', projectId)
      .executeTakeFirst();
    if (!row) throw new DomainError('project_not_found', `no project ${projectId}`);
    return row;
  }
}
