import { randomBytes } from 'node:crypto';
import {
  expandScopes,
  type Invitation,
  type InvitationAccepted,
  type InvitationCreated,
  type InvitationCreateRequest,
  type Role,
  roleCeiling,
} from '@runtools/spec';
import type { Kysely, Transaction } from 'kysely';
import type { z } from 'zod';
import { audit, systemPrincipal } from '../audit.js';
import { type Actor, actingMember, isSessionActor, type Principal } from '../auth/actor.js';
import { hashToken } from '../auth/api-key-token.js';
import { checkRoleGrant } from '../auth/grants.js';
import { isUniqueViolation } from '../db/database.js';
import { inPage, keysetPage, mapPage, newestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import { getMember, issueApiKey } from './tenancy.js';

type InvitationRow = Database['invitations'];

function statusOf(row: InvitationRow, now: Date): Invitation['status'] {
  if (row.accepted_at) return 'accepted';
  if (row.revoked_at) return 'revoked';
  return new Date(row.expires_at) <= now ? 'expired' : 'pending';
}

function invitationFromRow(row: InvitationRow, now = new Date()): Invitation {
  return {
    id: row.id,
    orgId: row.org_id,
    email: row.email,
    role: row.role as Role,
    invitedBy: row.invited_by_member_id,
    status: statusOf(row, now),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    acceptedAt: row.accepted_at,
    revokedAt: row.revoked_at,
  };
}

const earliest = (a: string, b: string | null) => (b && new Date(b) < new Date(a) ? b : a);

/**
 * Invitations: the only way into an org. Adding someone by email used to enrol an existing user of another
 * org without asking them (issue 12); now nobody becomes a member without accepting, with their own key if
 * they have an account, or by signing up with the token if they have none.
 *
 * An invitation is only as good as its sender: the role it offers must be one the inviting key may grant
 * (checked when it is made and again when it is accepted, so revoking that key, or demoting its holder, voids
 * it), it expires no later than that key, and a sign-up (where the sender, who holds the token, could be the
 * one signing up) gets a key that expires no later than the sender's either.
 */
export class Invitations {
  constructor(private readonly db: Kysely<Database>) {}

  async create(auth: Actor, body: z.output<typeof InvitationCreateRequest>): Promise<InvitationCreated> {
    checkRoleGrant(auth, null, body.role);
    const email = body.email.trim().toLowerCase();
    const already = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select('members.id')
      .where('members.org_id', '=', auth.orgId)
      .where('users.email', '=', email)
      .executeTakeFirst();
    if (already) throw new DomainError('member_exists', `${email} is already a member of this org`);
    const token = `rtinv_${randomBytes(32).toString('base64url')}`;
    const now = new Date();
    const row: InvitationRow = {
      id: newId('invitation'),
      org_id: auth.orgId,
      email,
      role: body.role,
      token_hash: hashToken(token),
      invited_by_member_id: actingMember(auth).id,
      // The principal that sent it (a key today): revoking it voids the invitation.
      // The key the invitation lives no longer than: a dashboard session's own key.
      invited_by_key_id: isSessionActor(auth) ? auth.key.id : auth.principal.id,
      created_at: now.toISOString(),
      expires_at: earliest(new Date(now.getTime() + body.expiresInDays * 86_400_000).toISOString(), auth.expiresAt),
      accepted_at: null,
      revoked_at: null,
    };
    await this.db.insertInto('invitations').values(row).execute();
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'invitation.created',
      actor: auth.principal,
      targetId: row.id,
      details: { email, role: body.role },
    });
    return { invitation: invitationFromRow(row, now), token };
  }

  /** Newest first: by creation time, then id. */
  async list(auth: Actor, page: PageRequest): Promise<Page<Invitation>> {
    const rows = await keysetPage(
      page,
      newestFirst,
      (row: Database['invitations']) => [row.created_at, row.id],
      (keyset) =>
        inPage(this.db.selectFrom('invitations').selectAll().where('org_id', '=', auth.orgId), keyset).execute(),
    );
    const now = new Date();
    return mapPage(rows, (row) => invitationFromRow(row, now));
  }

  async revoke(auth: Actor, invitationId: string): Promise<{ id: string; deleted: true }> {
    const row = await this.db
      .selectFrom('invitations')
      .selectAll()
      .where('org_id', '=', auth.orgId)
      .where('id', '=', invitationId)
      .executeTakeFirst();
    if (!row) throw new DomainError('invitation_not_found', `no invitation ${invitationId}`);
    // Revoking an invitation to a role is unmaking a grant of it: the same rule as making it.
    checkRoleGrant(auth, null, row.role as Role);
    if (!row.accepted_at && !row.revoked_at) {
      await this.db.updateTable('invitations').set({ revoked_at: nowIso() }).where('id', '=', row.id).execute();
      await audit(this.db, {
        orgId: auth.orgId,
        event: 'invitation.revoked',
        actor: auth.principal,
        targetId: row.id,
      });
    }
    return { id: row.id, deleted: true };
  }

  /** An existing user accepts with one of their own keys; the new key has that key's scopes and expiry. */
  async accept(auth: Actor, token: string): Promise<InvitationAccepted> {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.usable(trx, token);
      const member = actingMember(auth);
      if (row.email !== member.email.toLowerCase()) {
        throw new DomainError(
          'invitation_email_mismatch',
          `this invitation is for ${row.email}; accept it with a key of that account`,
        );
      }
      return this.join(trx, row, member.userId, {
        scopes: auth.granted,
        expiresAt: auth.expiresAt,
        actor: auth.principal,
      });
    });
  }

  /** Someone with no account yet accepts with the token alone: an account for the invited email, and its first key. */
  async signUp(token: string): Promise<InvitationAccepted> {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.usable(trx, token);
      const existing = await trx.selectFrom('users').select('id').where('email', '=', row.email).executeTakeFirst();
      if (existing) {
        throw new DomainError(
          'account_exists',
          `${row.email} has an account: accept the invitation with one of its keys (POST /v1/invitations/accept, runtools invitation accept)`,
        );
      }
      const userId = newId('user');
      try {
        await trx
          .insertInto('users')
          .values({ id: userId, email: row.email, name: null, created_at: nowIso() })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DomainError('account_exists', `${row.email} has an account`);
        throw error;
      }
      const sender = await trx
        .selectFrom('api_keys')
        .select('expires_at')
        .where('id', '=', row.invited_by_key_id)
        .executeTakeFirst();
      return this.join(trx, row, userId, {
        scopes: ['*'],
        expiresAt: sender?.expires_at ?? null,
        actor: systemPrincipal,
      });
    });
  }

  /** The invitation the token names, if it is still pending and its sender may still grant its role. */
  private async usable(trx: Transaction<Database>, token: string): Promise<InvitationRow> {
    const row = await trx
      .selectFrom('invitations')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    const now = new Date();
    if (!row) throw new DomainError('invitation_not_found', 'no such invitation: check the token');
    const status = statusOf(row, now);
    if (status !== 'pending') throw new DomainError('invitation_not_found', `this invitation is ${status}`, { status });
    const sender = await trx
      .selectFrom('api_keys')
      .innerJoin('members', 'members.id', 'api_keys.member_id')
      .select(['api_keys.scopes', 'api_keys.expires_at', 'api_keys.revoked_at', 'members.role'])
      .where('api_keys.id', '=', row.invited_by_key_id)
      .where('members.id', '=', row.invited_by_member_id)
      .where('members.org_id', '=', row.org_id)
      .executeTakeFirst();
    const senderValid = sender && !sender.revoked_at && !(sender.expires_at && new Date(sender.expires_at) <= now);
    if (sender && senderValid) {
      const role = sender.role as Role;
      const ceiling = roleCeiling(role);
      const effectiveScopes = new Set(
        [...expandScopes(JSON.parse(sender.scopes) as string[])].filter((scope) => ceiling.has(scope)),
      );
      try {
        checkRoleGrant({ role, scopes: effectiveScopes }, null, row.role as Role);
        return row;
      } catch {
        // Falls through: the sender can no longer grant this role.
      }
    }
    throw new DomainError(
      'invitation_not_found',
      'this invitation is no longer valid: whoever sent it can no longer grant its role; ask for a new one',
      { status: 'revoked' },
    );
  }

  private async join(
    trx: Transaction<Database>,
    row: InvitationRow,
    userId: string,
    key: { scopes: readonly string[]; expiresAt: string | null; actor: Principal },
  ): Promise<InvitationAccepted> {
    const claimed = await trx
      .updateTable('invitations')
      .set({ accepted_at: nowIso() })
      .where('id', '=', row.id)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) throw new DomainError('invitation_not_found', 'this invitation is used');
    const memberId = newId('member');
    const createdAt = nowIso();
    try {
      await trx
        .insertInto('members')
        .values({ id: memberId, org_id: row.org_id, user_id: userId, role: row.role, created_at: createdAt })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DomainError('member_exists', `${row.email} is already a member of this org`);
      throw error;
    }
    const org = await trx.selectFrom('orgs').selectAll().where('id', '=', row.org_id).executeTakeFirstOrThrow();
    const apiKey = await issueApiKey(trx, {
      orgId: row.org_id,
      memberId,
      name: `${row.email} in ${org.slug}`,
      scopes: key.scopes,
      expiresAt: key.expiresAt,
    });
    await audit(trx, {
      orgId: row.org_id,
      event: 'invitation.accepted',
      actor: key.actor,
      targetId: row.id,
      details: { memberId, role: row.role },
    });
    await audit(trx, {
      orgId: row.org_id,
      event: 'member.added',
      actor: key.actor,
      targetId: memberId,
      details: { role: row.role, invitationId: row.id },
    });
    return {
      org: { id: org.id, name: org.name, slug: org.slug, role: row.role as Role, createdAt: org.created_at },
      member: await getMember(trx, row.org_id, memberId),
      apiKey,
    };
  }
}
