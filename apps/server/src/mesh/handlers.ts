import type { meshRoutes } from '@runtools/spec';
import type { RunService } from '../agents/run-service.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { DomainHandlers } from '../http/route-handlers.js';
import { listMeshAudit, recordMeshAudit } from './audit.js';
import type { MeshLinks } from './links.js';
import { isNodeActor, type MeshNodes } from './nodes.js';

/** RunMesh: links, nodes, grants, revocation, the audit log and device-started runs (`spec/src/routes/mesh.ts`). */
export function meshHandlers(deps: {
  db: Db;
  links: MeshLinks;
  nodes: MeshNodes;
  runs: RunService;
}): DomainHandlers<typeof meshRoutes> {
  const { links, nodes } = deps;
  return {
    async meshLinkCreate({ body, clientAddress }) {
      return links.create(body, clientAddress);
    },
    async meshLinkPoll({ params, header, clientAddress }) {
      return links.poll(params.linkId, header('authorization'), clientAddress);
    },
    async meshLinkLookup({ auth, params }) {
      return links.lookup(auth, params.code);
    },
    async meshLinkApprove({ auth, body, clientAddress }) {
      return links.approve(auth, body.code, body.name, clientAddress);
    },
    async meshLinkDeny({ auth, body, clientAddress }) {
      return links.deny(auth, body.code, clientAddress);
    },
    async meshNodesList({ auth, query }) {
      return nodes.list(auth, query);
    },
    async meshNodeGet({ auth, params }) {
      return nodes.get(auth, params.node);
    },
    async meshNodeConfig({ auth, params, clientAddress }) {
      return nodes.config(auth, params.node, clientAddress);
    },
    async meshNodeRevoke({ auth, params, clientAddress }) {
      return nodes.revoke(auth, params.node, clientAddress);
    },
    async meshNodeAllow({ auth, params, body, clientAddress }) {
      return nodes.allow(auth, params.node, body.member, clientAddress);
    },
    async meshNodeDisallow({ auth, params, clientAddress }) {
      return nodes.disallow(auth, params.node, params.member, clientAddress);
    },
    async meshAudit({ auth, query }) {
      return listMeshAudit(deps.db.kysely, auth, query);
    },
    async meshRun({ auth, body, clientAddress }) {
      const run = await deps.runs.start(auth, body.agent, { prompt: body.prompt, thread: body.threadId ?? true });
      if (!run.threadId) throw new DomainError('internal_error', 'a device run started without its thread');
      if (isNodeActor(auth))
        await recordMeshAudit(deps.db.kysely, {
          orgId: auth.orgId,
          action: 'node.run',
          actor: auth.principal,
          nodeId: auth.principal.id,
          from: clientAddress ?? null,
          details: { runId: run.id, agent: body.agent, threadId: run.threadId },
        });
      return { runId: run.id, threadId: run.threadId, rolloutId: run.id };
    },
  };
}
