import type { Org, OrgCreated, OrgCreateRequest, Role } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { audit } from '../audit.js';
import { type Actor, actingMember } from '../auth/actor.js';
import { memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { createOrg, issueApiKey } from './tenancy.js';

/**
 * Orgs as a key sees them: its own, and no other, even one its holder also belongs to (listing the others
 * would let an org that enrolled someone learn where else they work; issue 12).
 */
export class OrgService {
  constructor(private readonly db: Kysely<Database>) {}

  /** One org, the key's own; paged like every list (by id). */
  async list(auth: Actor, page: PageRequest): Promise<Page<Org>> {
    return memoryPage([await this.get(auth, auth.orgId)], page, { arity: 1, keyOf: (org) => [org.id] });
  }

  async get(auth: Actor, orgId: string): Promise<Org> {
    if (orgId !== auth.orgId) throw new DomainError('org_not_found', `no org ${orgId}`);
    const row = await this.db
      .selectFrom('orgs')
      .innerJoin('members', 'members.org_id', 'orgs.id')
      .select(['orgs.id', 'orgs.name', 'orgs.slug', 'orgs.created_at', 'members.role'])
      .where('orgs.id', '=', orgId)
      .where('members.user_id', '=', actingMember(auth).userId)
      .executeTakeFirst();
    if (!row) throw new DomainError('org_not_found', `no org ${orgId}`);
    return { id: row.id, name: row.name, slug: row.slug, role: row.role as Role, createdAt: row.created_at };
  }

  /** A new org owned by the caller, with its default project and an owner key no stronger than the caller's. */
  create(auth: Actor, body: z.output<typeof OrgCreateRequest>): Promise<OrgCreated> {
    return this.db.transaction().execute(async (trx) => {
      const created = await createOrg(trx, {
        name: body.name,
        ...(body.slug ? { slug: body.slug } : {}),
        ownerUserId: actingMember(auth).userId,
        actor: auth.principal,
      });
      const apiKey = await issueApiKey(trx, {
        orgId: created.org.id,
        memberId: created.memberId,
        name: `owner key for ${created.org.slug}`,
        // No more than the key that asked for it: its scopes (the new org is the caller's own, so they are not
        // cut to what it holds here) and no later expiry.
        scopes: auth.granted,
        expiresAt: auth.expiresAt,
      });
      return { org: created.org, project: created.project, apiKey };
    });
  }

  async update(auth: Actor, orgId: string, body: { name: string }): Promise<Org> {
    // A key acts inside its own org only; another org's id is "not found" even to its members' other keys.
    if (orgId !== auth.orgId) throw new DomainError('org_not_found', `no org ${orgId}`);
    await this.db.updateTable('orgs').set({ name: body.name }).where('id', '=', auth.orgId).execute();
    await audit(this.db, { orgId: auth.orgId, event: 'org.updated', actor: auth.principal, targetId: auth.orgId });
    return this.get(auth, auth.orgId);
  }
}
