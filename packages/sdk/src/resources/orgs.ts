import type {
  Deleted,
  Invitation,
  InvitationAccepted,
  InvitationCreated,
  Member,
  Org,
  OrgCreated,
  Project,
  Role,
  StorageUsage,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** Organizations the key's member belongs to. */
export class Orgs {
  constructor(private readonly http: HttpClient) {}

  /** The key's own org (a key sees no other). @example const [org] = await rt.orgs.list() */
  list(): PagedList<Org> {
    return new PagedList((page) => this.http.call('orgsList', { query: page }));
  }

  /**
   * Creates an org you own, with its default project and an owner key for it (shown once).
   * @example const { org, apiKey } = await rt.orgs.create({ name: 'Acme' })
   */
  create(input: { name: string; slug?: string }): Promise<OrgCreated> {
    return this.http.call('orgsCreate', { body: input });
  }

  /** @example const org = await rt.orgs.get('org_…') */
  get(id: string): Promise<Org> {
    return this.http.call('orgsGet', { params: { orgId: id } });
  }

  /** @example await rt.orgs.update('org_…', { name: 'Acme Inc' }) */
  update(id: string, input: { name: string }): Promise<Org> {
    return this.http.call('orgsUpdate', { params: { orgId: id }, body: input });
  }

  /**
   * The key's org's storage against its quota: its sandboxes' disk limits, snapshots and workspaces.
   * @example const { usedBytes, quotaBytes } = await rt.orgs.usage()
   */
  usage(): Promise<StorageUsage> {
    return this.http.call('usageGet');
  }
}

/** Projects of the key's org; every org has a default one. */
export class Projects {
  constructor(private readonly http: HttpClient) {}

  /** @example const projects = await rt.projects.list() */
  list(): PagedList<Project> {
    return new PagedList((page) => this.http.call('projectsList', { query: page }));
  }

  /** @example const project = await rt.projects.create({ name: 'Research' }) */
  create(input: { name: string; slug?: string }): Promise<Project> {
    return this.http.call('projectsCreate', { body: input });
  }

  /** @example const project = await rt.projects.get('prj_…') */
  get(id: string): Promise<Project> {
    return this.http.call('projectsGet', { params: { projectId: id } });
  }

  /** @example await rt.projects.update('prj_…', { name: 'Research 2' }) */
  update(id: string, input: { name: string }): Promise<Project> {
    return this.http.call('projectsUpdate', { params: { projectId: id }, body: input });
  }

  /** @example await rt.projects.delete('prj_…') */
  delete(id: string): Promise<Deleted> {
    return this.http.call('projectsDelete', { params: { projectId: id } });
  }
}

/** Members of the key's org and their roles. */
export class Members {
  constructor(private readonly http: HttpClient) {}

  /** @example const members = await rt.members.list() */
  list(): PagedList<Member> {
    return new PagedList((page) => this.http.call('membersList', { query: page }));
  }

  /**
   * Invites someone to join the org with a role (one the calling key may grant). Nobody becomes a member
   * until they accept: hand them the token, shown this once.
   * @example const { invitation, token } = await rt.members.invite({ email: 'ada@example.com', role: 'admin' })
   */
  invite(input: { email: string; role?: Role; expiresInDays?: number }): Promise<InvitationCreated> {
    return this.http.call('invitationsCreate', { body: input });
  }

  /** The org's invitations, newest first. @example const pending = (await rt.members.invitations()).filter((i) => i.status === 'pending') */
  invitations(): PagedList<Invitation> {
    return new PagedList((page) => this.http.call('invitationsList', { query: page }));
  }

  /** Revokes an invitation nobody has accepted. @example await rt.members.revokeInvitation('inv_…') */
  revokeInvitation(id: string): Promise<Deleted> {
    return this.http.call('invitationsRevoke', { params: { invitationId: id } });
  }

  /**
   * Accepts an invitation sent to this key's account: you join its org, and get a key for it with this key's
   * scopes and expiry (shown once).
   * @example const { org, apiKey } = await rt.members.acceptInvitation(token)
   */
  acceptInvitation(token: string): Promise<InvitationAccepted> {
    return this.http.call('invitationsAccept', { body: { token } });
  }

  /** @example await rt.members.update('mem_…', { role: 'member' }) */
  update(id: string, input: { role: Role }): Promise<Member> {
    return this.http.call('membersUpdate', { params: { memberId: id }, body: input });
  }

  /** Removes a member and revokes their keys. @example await rt.members.remove('mem_…') */
  remove(id: string): Promise<Deleted> {
    return this.http.call('membersRemove', { params: { memberId: id } });
  }
}
