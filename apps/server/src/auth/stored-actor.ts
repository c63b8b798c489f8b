import { expandScopes, type Role, roleCeiling } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { type Actor, isSessionActor, type Principal } from './actor.js';

/**
 * An actor as work that outlives its request keeps it (a workflow run, a trigger): who it is and what it was
 * granted, never what it may do now. `resolveActor` reads that again at every step, so a key revoked or
 * expired since, or a member removed or demoted, is seen at the next node.
 */
export interface StoredActor {
  principal: Principal;
  memberId: string | null;
  /** The scopes granted (patterns): a trigger keeps its creator key's, cut to the member's role at each use. */
  granted: string[];
  /**
   * Another actor whose rights bound this one's: a trigger running a version someone else published acts with
   * no more than the publisher could do (else publishing a graph would borrow the trigger creator's rights).
   */
  limitedBy?: StoredActor;
}

export function storeActor(actor: Actor): StoredActor {
  // A dashboard session's work is its key's: kept as the key, it lives as long as the key does, not as long as
  // the session's row (sessions end within hours and their rows are swept).
  const principal: Principal = isSessionActor(actor) ? { kind: 'key', id: actor.key.id } : actor.principal;
  return { principal, memberId: actor.member?.id ?? null, granted: [...actor.granted] };
}

/** A trigger's runs act for the member who made it, with the scopes of the key they made it with. */
export function triggerActor(triggerId: string, creator: StoredActor): StoredActor {
  return { principal: { kind: 'trigger', id: triggerId }, memberId: creator.memberId, granted: creator.granted };
}

export async function resolveActor(db: Kysely<Database>, orgId: string, stored: StoredActor): Promise<Actor> {
  let granted = stored.granted;
  let expiresAt: string | null = null;
  if (stored.principal.kind === 'key' || stored.principal.kind === 'session') {
    // A dashboard session acts with the key it was made from: work it started lives as long as that key,
    // not as long as the browser stays signed in.
    const keyId =
      stored.principal.kind === 'key'
        ? stored.principal.id
        : (
            await db
              .selectFrom('dashboard_sessions')
              .select('key_id')
              .where('id', '=', stored.principal.id)
              .where('org_id', '=', orgId)
              .executeTakeFirst()
          )?.key_id;
    const key = await db
      .selectFrom('api_keys')
      .select(['scopes', 'expires_at', 'revoked_at', 'member_id'])
      .where('id', '=', keyId ?? '')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (!key || key.revoked_at)
      throw new DomainError('api_key_revoked', 'the key this work acts with was revoked (or its holder removed)');
    if (key.expires_at && new Date(key.expires_at) <= new Date())
      throw new DomainError('api_key_expired', `the key this work acts with expired at ${key.expires_at}`);
    granted = JSON.parse(key.scopes) as string[];
    expiresAt = key.expires_at;
  } else if (stored.principal.kind === 'node') {
    // A device's own run: its node must still be linked (a revoked node's work stops at its next step).
    const node = await db
      .selectFrom('mesh_nodes')
      .select(['revoked_at'])
      .where('id', '=', stored.principal.id)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (!node || node.revoked_at) throw new DomainError('node_revoked', 'the device this work acts for was revoked');
  } else if (stored.principal.kind !== 'trigger') {
    throw new DomainError('unauthenticated', `work started by a ${stored.principal.kind} cannot re-check its rights`);
  }
  if (!stored.memberId) throw new DomainError('unauthenticated', 'this work acts for no member');
  const member = await db
    .selectFrom('members')
    .innerJoin('users', 'users.id', 'members.user_id')
    .select(['members.id', 'members.role', 'users.id as userId', 'users.email'])
    .where('members.id', '=', stored.memberId)
    .where('members.org_id', '=', orgId)
    .executeTakeFirst();
  if (!member)
    throw new DomainError('member_required', 'the member this work acts for is no longer in the organization');
  const role = member.role as Role;
  const ceiling = roleCeiling(role);
  const limit = stored.limitedBy ? (await resolveActor(db, orgId, stored.limitedBy)).scopes : undefined;
  return {
    orgId,
    principal: stored.principal,
    scopes: new Set(
      [...expandScopes(granted)].filter((scope) => ceiling.has(scope) && (limit === undefined || limit.has(scope))),
    ),
    role,
    member: { id: member.id, userId: member.userId, email: member.email },
    granted,
    expiresAt,
  };
}
