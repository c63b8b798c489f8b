import type { AuditEvent } from '@runtools/spec';
import type { Kysely, Transaction } from 'kysely';
import type { Principal } from './auth/actor.js';

export { systemPrincipal } from './auth/actor.js';

import type { Database } from './db/schema.js';
import { nowIso } from './ids.js';

/** Appends one audit record; runs inside the caller's transaction so the record and the change land together. */
export async function audit(
  db: Kysely<Database> | Transaction<Database>,
  entry: {
    orgId: string;
    event: AuditEvent;
    /** Who did it: the calling actor's principal, or `systemPrincipal` for what the platform does itself. */
    actor: Principal;
    targetId?: string;
    details?: Record<string, unknown>;
  },
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      org_id: entry.orgId,
      event: entry.event,
      actor_kind: entry.actor.kind,
      actor_id: entry.actor.id,
      target_id: entry.targetId ?? null,
      details: JSON.stringify(entry.details ?? {}),
      created_at: nowIso(),
    })
    .execute();
}
