import type { systemRoutes } from '@runtools/spec';
import { isKeyActor, isSessionActor } from '../auth/actor.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { ProjectService } from '../tenancy/project-service.js';

export interface SystemDeps {
  db: Db;
  projects: ProjectService;
  version: string;
  /** Extra readiness checks beyond the database (e.g. the root key being loaded). */
  readinessChecks: () => Record<string, { ok: boolean; message?: string }>;
}

/** Health, readiness and the caller itself (`spec/src/routes/system.ts`). */
export function systemHandlers(deps: SystemDeps): DomainHandlers<typeof systemRoutes> {
  return {
    async health() {
      return { status: 'ok', version: deps.version };
    },
    async ready() {
      const checks: Record<string, { ok: boolean; message?: string }> = {};
      try {
        await deps.db.ping();
        checks.database = { ok: true };
      } catch (error) {
        checks.database = { ok: false, message: (error as Error).message };
      }
      Object.assign(checks, deps.readinessChecks());
      const ok = Object.values(checks).every((check) => check.ok);
      if (!ok) throw new DomainError('service_unavailable', 'not ready', { checks });
      return { status: 'ready', checks };
    },
    async whoAmI({ auth }) {
      // A key describes itself; a dashboard session describes the key it was made from.
      if (!isKeyActor(auth) && !isSessionActor(auth))
        throw new DomainError('unauthenticated', `whoami describes an API key, not a ${auth.principal.kind}`);
      const keyId = isSessionActor(auth) ? auth.key.id : auth.principal.id;
      return {
        org: { id: auth.orgId, name: auth.org.name, slug: auth.org.slug },
        project: await deps.projects.defaultProject(auth.orgId),
        member: { id: auth.member.id, role: auth.role, email: auth.member.email },
        key: { id: keyId, name: auth.key.name, prefix: auth.key.prefix, scopes: [...auth.granted] },
        effectiveScopes: [...auth.scopes].sort(),
      };
    },
  };
}
