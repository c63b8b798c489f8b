import type { Member, Role } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import type { Actor } from '../auth/actor.js';
import { checkRoleGrant } from '../auth/grants.js';
import { inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { revokeNodesOwnedBy } from '../mesh/nodes.js';
import { countOwners, getMember, selectMembers } from './tenancy.js';

/** An org's members: roles are changed only by those who outrank them, and an org keeps at least one owner. */
export class MemberService {
  constructor(private readonly db: Kysely<Database>) {}

  /** Oldest first: by joining time, then id. */
  async list(auth: Actor, page: PageRequest): Promise<Page<Member>> {
    const rows = await keysetPage(
      page,
      [
        { column: 'members.created_at', direction: 'asc' },
        { column: 'members.id', direction: 'asc' },
      ],
      (row: { createdAt: string; id: string }) => [row.createdAt, row.id],
      (keyset) => inPage(selectMembers(this.db, auth.orgId), keyset).execute(),
    );
    return mapPage(rows, (row) => ({ ...row, role: row.role as Role }));
  }

  update(auth: Actor, memberId: string, body: { role: Role }): Promise<Member> {
    return this.db.transaction().execute(async (trx) => {
      const member = await getMember(trx, auth.orgId, memberId);
      checkRoleGrant(auth, member.role, body.role);
      if (member.role === 'owner' && body.role !== 'owner' && (await countOwners(trx, auth.orgId)) <= 1) {
        throw new DomainError('last_owner', 'an org needs at least one owner; promote another member first');
      }
      await trx.updateTable('members').set({ role: body.role }).where('id', '=', member.id).execute();
      await audit(trx, {
        orgId: auth.orgId,
        event: 'member.updated',
        actor: auth.principal,
        targetId: member.id,
        details: { role: body.role },
      });
      return { ...member, role: body.role };
    });
  }

  /** Removes a member and revokes their keys and RunMesh nodes in the same transaction. */
  remove(auth: Actor, memberId: string): Promise<{ id: string; deleted: true }> {
    return this.db.transaction().execute(async (trx) => {
      const member = await getMember(trx, auth.orgId, memberId);
      checkRoleGrant(auth, member.role, null);
      if (member.role === 'owner' && (await countOwners(trx, auth.orgId)) <= 1) {
        throw new DomainError('last_owner', 'an org needs at least one owner; it cannot remove its last one');
      }
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: nowIso() })
        .where('member_id', '=', member.id)
        .where('revoked_at', 'is', null)
        .execute();
      // Their RunMesh devices leave with them (a device is its owner's: nobody else's rights keep it linked).
      await revokeNodesOwnedBy(trx, auth.orgId, member.id, auth.principal);
      await trx.deleteFrom('members').where('id', '=', member.id).execute();
      await audit(trx, { orgId: auth.orgId, event: 'member.removed', actor: auth.principal, targetId: member.id });
      return { id: member.id, deleted: true };
    });
  }
}
