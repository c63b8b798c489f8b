import { type ConcreteScope, expandScopes, type Role, roleCeiling } from '@runtools/spec';
import { DomainError, invalidBodyField } from '../errors.js';
import type { Actor } from './actor.js';
import { requireScopes } from './authenticate.js';

/**
 * What a caller may hand out. The rule behind every function here: nothing a caller makes (a key, a member's
 * role, an invitation) can do more, or last longer, than the caller itself.
 */

const roleRank: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

/** Whether a member of role `role` outranks one of role `other`. */
export function outranks(role: Role, other: Role): boolean {
  return roleRank[role] > roleRank[other];
}

/** Every scope of a new key must be in the caller's effective set. */
export function checkNoEscalation(auth: Actor, scopes: readonly string[]): void {
  const missing = [...expandScopes(scopes)].filter((scope) => !auth.scopes.has(scope));
  if (missing.length > 0) {
    throw new DomainError(
      'scope_escalation',
      `a key cannot grant scopes its creator does not hold: ${missing.join(', ')}`,
      {
        missing,
      },
    );
  }
}

/**
 * Giving someone role `to` (inviting them, or changing their role from `from`) grants every scope that role
 * allows beyond what they had. The caller must hold each of those scopes itself, and only owners make or
 * unmake owners: a key with only `members:write` cannot conjure a member who can do what it cannot.
 */
export function checkRoleGrant(auth: Pick<Actor, 'role' | 'scopes'>, from: Role | null, to: Role | null): void {
  if ((from === 'owner' || to === 'owner') && auth.role !== 'owner') {
    throw new DomainError('role_forbidden', 'only an owner can add, remove or change an owner');
  }
  if (to === null) return;
  const before = from === null ? new Set<ConcreteScope>() : roleCeiling(from);
  const missing = [...roleCeiling(to)].filter((scope) => !before.has(scope) && !auth.scopes.has(scope));
  if (missing.length > 0) {
    throw new DomainError(
      'scope_escalation',
      `the role ${to} can do what this key cannot (${missing.join(', ')}); use a key that holds those scopes`,
      { missing, role: to },
    );
  }
}

/**
 * When a key minted by the caller expires: what was asked, which must be in the future and no later than the
 * caller's own key; when nothing was asked, the caller's own expiry (a key that expires in an hour cannot mint
 * one that never does).
 */
export function childKeyExpiry(auth: Actor, requested: string | undefined, now = new Date()): string | null {
  if (requested === undefined) return auth.expiresAt;
  const at = new Date(requested);
  if (at <= now) throw invalidBodyField('expiresAt', 'must be in the future');
  if (auth.expiresAt && at > new Date(auth.expiresAt)) {
    throw invalidBodyField('expiresAt', `must be no later than the calling key's own expiry, ${auth.expiresAt}`);
  }
  return at.toISOString();
}

/**
 * Mounting a workspace into a sandbox hands everything that runs there its files, read and write: that needs
 * what writing them directly needs (`files:write`), not only `sandboxes:write`.
 */
export function checkMounts(auth: Actor, mounts: readonly unknown[] | null | undefined): void {
  if (mounts && mounts.length > 0) requireScopes(auth, ['files:write']);
}
