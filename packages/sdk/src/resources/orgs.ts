import {
  type Deleted,
  type Member,
  type MemberAdded,
  type Org,
  type OrgCreated,
  type Project,
  type Role,
  routes,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';

/** Organizations the key's member belongs to. */
export class Orgs {
  constructor(private readonly http: HttpClient) {}

  /** @example const orgs = await rt.orgs.list() */
  async list(): Promise<Org[]> {
    return (await this.http.call<{ data: Org[] }>(routes.orgsList)).data;
  }

  /**
   * Creates an org you own, with its default project and an owner key for it (shown once).
   * @example const { org, apiKey } = await rt.orgs.create({ name: 'Acme' })
   */
  create(input: { name: string; slug?: string }): Promise<OrgCreated> {
    return this.http.call(routes.orgsCreate, { body: input });
  }

  /** @example const org = await rt.orgs.get('org_…') */
  get(id: string): Promise<Org> {
    return this.http.call(routes.orgsGet, { params: { orgId: id } });
  }

  /** @example await rt.orgs.update('org_…', { name: 'Acme Inc' }) */
  update(id: string, input: { name: string }): Promise<Org> {
    return this.http.call(routes.orgsUpdate, { params: { orgId: id }, body: input });
  }
}

/** Projects of the key's org; every org has a default one. */
export class Projects {
  constructor(private readonly http: HttpClient) {}

  /** @example const projects = await rt.projects.list() */
  async list(): Promise<Project[]> {
    return (await this.http.call<{ data: Project[] }>(routes.projectsList)).data;
  }

  /** @example const project = await rt.projects.create({ name: 'Research' }) */
  create(input: { name: string; slug?: string }): Promise<Project> {
    return this.http.call(routes.projectsCreate, { body: input });
  }

  /** @example const project = await rt.projects.get('prj_…') */
  get(id: string): Promise<Project> {
    return this.http.call(routes.projectsGet, { params: { projectId: id } });
  }

  /** @example await rt.projects.update('prj_…', { name: 'Research 2' }) */
  update(id: string, input: { name: string }): Promise<Project> {
    return this.http.call(routes.projectsUpdate, { params: { projectId: id }, body: input });
  }

  /** @example await rt.projects.delete('prj_…') */
  delete(id: string): Promise<Deleted> {
    return this.http.call(routes.projectsDelete, { params: { projectId: id } });
  }
}

/** Members of the key's org and their roles. */
export class Members {
  constructor(private readonly http: HttpClient) {}

  /** @example const members = await rt.members.list() */
  async list(): Promise<Member[]> {
    return (await this.http.call<{ data: Member[] }>(routes.membersList)).data;
  }

  /**
   * Adds a member and returns their first API key (shown once).
   * @example const { member, apiKey } = await rt.members.add({ email: 'ada@example.com', role: 'admin' })
   */
  add(input: { email: string; name?: string; role?: Role }): Promise<MemberAdded> {
    return this.http.call(routes.membersAdd, { body: input });
  }

  /** @example await rt.members.update('mem_…', { role: 'member' }) */
  update(id: string, input: { role: Role }): Promise<Member> {
    return this.http.call(routes.membersUpdate, { params: { memberId: id }, body: input });
  }

  /** Removes a member and revokes their keys. @example await rt.members.remove('mem_…') */
  remove(id: string): Promise<Deleted> {
    return this.http.call(routes.membersRemove, { params: { memberId: id } });
  }
}
