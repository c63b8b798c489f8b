import type { systemRoutes } from '@runtools/spec';
import type { Db } from '../db/database.js';
import { ApiError } from '../http/errors.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import type { ProjectService } from '../orgs/project-service.js';

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
      if (!ok) throw new ApiError('service_unavailable', 'not ready', { checks });
      return { status: 'ready', checks };
    },
    async whoAmI({ auth }) {
      return {
        org: { id: auth.orgId, name: auth.orgName, slug: auth.orgSlug },
        project: await deps.projects.defaultProject(auth.orgId),
        member: { id: auth.memberId, role: auth.role, email: auth.email },
        key: { id: auth.keyId, name: auth.keyName, prefix: auth.keyPrefix, scopes: auth.keyScopes },
        effectiveScopes: [...auth.effectiveScopes].sort(),
      };
    },
  };
}
