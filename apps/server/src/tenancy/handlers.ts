import type { tenancyRoutes } from '@runtools/spec';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { StorageQuota } from '../usage/storage-quota.js';
import type { Invitations } from './invitations.js';
import type { MemberService } from './member-service.js';
import type { OrgService } from './org-service.js';
import type { ProjectService } from './project-service.js';

export interface TenancyDeps {
  orgs: OrgService;
  projects: ProjectService;
  members: MemberService;
  invitations: Invitations;
  storage: StorageQuota;
}

/** Orgs, their storage usage, projects, members and invitations (`spec/src/routes/tenancy.ts`). */
export function tenancyHandlers(deps: TenancyDeps): DomainHandlers<typeof tenancyRoutes> {
  const { orgs, projects, members, invitations } = deps;
  return {
    async orgsList({ auth, query }) {
      return orgs.list(auth, query);
    },
    async orgsCreate({ auth, body }) {
      return orgs.create(auth, body);
    },
    async orgsGet({ auth, params }) {
      return orgs.get(auth, params.orgId);
    },
    async orgsUpdate({ auth, params, body }) {
      return orgs.update(auth, params.orgId, body);
    },
    async usageGet({ auth }) {
      return deps.storage.usage(auth);
    },

    async projectsList({ auth, query }) {
      return projects.list(auth, query);
    },
    async projectsCreate({ auth, body }) {
      return projects.create(auth, body);
    },
    async projectsGet({ auth, params }) {
      return projects.get(auth, params.projectId);
    },
    async projectsUpdate({ auth, params, body }) {
      return projects.update(auth, params.projectId, body);
    },
    async projectsDelete({ auth, params }) {
      return projects.delete(auth, params.projectId);
    },

    async membersList({ auth, query }) {
      return members.list(auth, query);
    },
    async membersUpdate({ auth, params, body }) {
      return members.update(auth, params.memberId, body);
    },
    async membersRemove({ auth, params }) {
      return members.remove(auth, params.memberId);
    },

    async invitationsCreate({ auth, body }) {
      return invitations.create(auth, body);
    },
    async invitationsList({ auth, query }) {
      return invitations.list(auth, query);
    },
    async invitationsRevoke({ auth, params }) {
      return invitations.revoke(auth, params.invitationId);
    },
    async invitationsAccept({ auth, body }) {
      return invitations.accept(auth, body.token);
    },
    async invitationsSignUp({ body }) {
      return invitations.signUp(body.token);
    },
  };
}
