import type { ConcreteScope, Role } from '@runtools/spec';
import { DomainError } from '../errors.js';

/**
 * What acts: an API key today; a dashboard session, a member signing in, a cron or webhook trigger, a mesh
 * node or the platform itself as later callers arrive. Audit records name it by kind and id.
 */
export type PrincipalKind = 'key' | 'session' | 'member' | 'trigger' | 'node' | 'system';

export interface Principal {
  kind: PrincipalKind;
  id: string;
}

/** The member an actor acts for: keys and sessions belong to one; a trigger acts for the member who made it. */
export interface ActingMember {
  id: string;
  userId: string;
  email: string;
}

/**
 * Who is calling, as every service takes it. A service asks an actor what it may do (`scopes`, `role`) and in
 * which org, never how it proved who it is; so a new kind of caller is a new way to build an `Actor`, not a
 * change to every call site.
 */
export interface Actor {
  orgId: string;
  principal: Principal;
  /** What it may do here and now (for a key: its scopes cut to what its member's role allows today). */
  scopes: ReadonlySet<ConcreteScope>;
  /** The role of the member it acts for; null when it acts for none (the platform itself). */
  role: Role | null;
  member: ActingMember | null;
  /** Its scopes as they were granted (patterns such as `sandboxes:*`): what it hands on, and what errors name. */
  granted: readonly string[];
  /** When its authority ends (a key's expiry; null: never). Nothing it mints outlives it. */
  expiresAt: string | null;
}

/** An actor authenticated by an API key: a member's key, with the key's and the org's names for whoami. */
export interface KeyActor extends Actor {
  principal: { kind: 'key'; id: string };
  role: Role;
  member: ActingMember;
  org: { name: string; slug: string };
  key: { name: string; prefix: string };
}

/**
 * A member signed in to the dashboard: a session cookie made from one of their keys. It acts with that key's
 * scopes cut to the member's role (so it can do no more than the key), and ends when the key does.
 */
export interface SessionActor extends Actor {
  principal: { kind: 'session'; id: string };
  role: Role;
  member: ActingMember;
  org: { name: string; slug: string };
  key: { id: string; name: string; prefix: string };
  session: { via: 'api_key' | 'link'; createdAt: string; expiresAt: string };
}

/** The platform acting on its own (the first org at bootstrap, a sign-up by an invitation's token). */
export const systemPrincipal: Principal = { kind: 'system', id: 'runtools' };

/** The platform acting in an org on its own behalf (its own sandboxes, such as an org's tool runner). */
export function platformActor(orgId: string): Actor {
  return {
    orgId,
    principal: systemPrincipal,
    scopes: new Set(),
    role: null,
    member: null,
    granted: [],
    expiresAt: null,
  };
}

export function isKeyActor(actor: Actor): actor is KeyActor {
  return actor.principal.kind === 'key';
}

export function isSessionActor(actor: Actor): actor is SessionActor {
  return actor.principal.kind === 'session';
}

/** The member an actor acts for, where the call needs one (a key minted, an org created, a personal workspace). */
export function actingMember(actor: Actor): ActingMember & { role: Role } {
  if (!actor.member || !actor.role) {
    throw new DomainError('member_required', `a ${actor.principal.kind} acts for no member, and this call needs one`);
  }
  return { ...actor.member, role: actor.role };
}
