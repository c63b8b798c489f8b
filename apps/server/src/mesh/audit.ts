import type { MeshAuditAction, MeshAuditEntry } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Actor, Principal } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { inPage, keysetPage, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { newId, nowIso } from '../ids.js';

export interface MeshAuditRecord {
  /** Null for a link no org has decided on yet: it is claimed by the org that approves or denies it. */
  orgId: string | null;
  action: MeshAuditAction;
  actor: Principal;
  nodeId?: string | null;
  linkId?: string | null;
  from?: string | null;
  details?: Record<string, unknown>;
  at?: string;
}

/** Adds an entry to the RunMesh audit log (in the caller's transaction when given one). */
export async function recordMeshAudit(db: Kysely<Database>, record: MeshAuditRecord): Promise<void> {
  await db
    .insertInto('mesh_audit')
    .values({
      id: newId('meshAudit'),
      org_id: record.orgId,
      at: record.at ?? nowIso(),
      action: record.action,
      actor_kind: record.actor.kind,
      actor_id: record.actor.id,
      node_id: record.nodeId ?? null,
      link_id: record.linkId ?? null,
      from_address: record.from ?? null,
      details: JSON.stringify(record.details ?? {}),
    })
    .execute();
}

const auditOrder = [
  { column: 'at', direction: 'desc' },
  { column: 'id', direction: 'asc' },
] as const;

/** The org's audit log, newest first. */
export async function listMeshAudit(
  db: Kysely<Database>,
  actor: Actor,
  query: PageRequest & { nodeId?: string | undefined; action?: MeshAuditAction | undefined },
): Promise<{ data: MeshAuditEntry[]; nextCursor: string | null }> {
  requireScopes(actor, ['mesh:read']);
  return keysetPage(
    query,
    auditOrder,
    (row: Database['mesh_audit']) => [row.at, row.id],
    async (keyset) => {
      let select = db.selectFrom('mesh_audit').selectAll().where('org_id', '=', actor.orgId);
      if (query.nodeId) select = select.where('node_id', '=', query.nodeId);
      if (query.action) select = select.where('action', '=', query.action);
      return inPage(select, keyset).execute();
    },
  ).then((page) => ({
    nextCursor: page.nextCursor,
    data: page.data.map((row) => ({
      id: row.id,
      at: row.at,
      action: row.action as MeshAuditAction,
      actor: { kind: row.actor_kind, id: row.actor_id },
      nodeId: row.node_id,
      linkId: row.link_id,
      from: row.from_address,
      details: JSON.parse(row.details) as Record<string, unknown>,
    })),
  }));
}
