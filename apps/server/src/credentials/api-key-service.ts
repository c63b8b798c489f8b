import type { ApiKey, ApiKeyCreated } from '@runtools/spec';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import { type Actor, actingMember } from '../auth/actor.js';
import { checkNoEscalation, childKeyExpiry, outranks } from '../auth/grants.js';
import { inPage, keysetPage, mapPage, oldestFirst, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { getMember, issueApiKey } from '../tenancy/tenancy.js';

function apiKeyFromRow(row: Database['api_keys']): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    memberId: row.member_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

const isAdmin = (auth: Actor) => auth.role === 'owner' || auth.role === 'admin';

/**
 * API keys: a key mints keys for its own member, never stronger or longer-lived than itself. Members see and
 * revoke their own keys; admins see every key of the org and revoke those of members they are not outranked by.
 */
export class ApiKeyService {
  constructor(private readonly db: Kysely<Database>) {}

  async create(
    auth: Actor,
    body: { name: string; scopes: string[]; expiresAt?: string | undefined },
  ): Promise<ApiKeyCreated> {
    checkNoEscalation(auth, body.scopes);
    const expiresAt = childKeyExpiry(auth, body.expiresAt);
    const created = await issueApiKey(this.db, {
      orgId: auth.orgId,
      memberId: actingMember(auth).id,
      name: body.name,
      scopes: body.scopes,
      expiresAt,
    });
    await audit(this.db, {
      orgId: auth.orgId,
      event: 'api_key.created',
      actor: auth.principal,
      targetId: created.id,
      details: { scopes: body.scopes },
    });
    return created;
  }

  /** Oldest first: by creation time, then id. */
  async list(auth: Actor, page: PageRequest): Promise<Page<ApiKey>> {
    let query = this.db.selectFrom('api_keys').selectAll().where('org_id', '=', auth.orgId);
    if (!isAdmin(auth)) query = query.where('member_id', '=', actingMember(auth).id);
    const rows = await keysetPage(
      page,
      oldestFirst,
      (row: Database['api_keys']) => [row.created_at, row.id],
      (keyset) => inPage(query, keyset).execute(),
    );
    return mapPage(rows, apiKeyFromRow);
  }

  async get(auth: Actor, keyId: string): Promise<ApiKey> {
    return apiKeyFromRow(await this.visible(auth, keyId));
  }

  async revoke(auth: Actor, keyId: string): Promise<ApiKey> {
    const row = await this.visible(auth, keyId);
    const me = actingMember(auth);
    if (row.member_id !== me.id) {
      // Admins see every key of the org, but revoke only those of members who do not outrank them.
      const holder = await getMember(this.db, auth.orgId, row.member_id);
      if (outranks(holder.role, me.role)) {
        throw new DomainError('role_forbidden', `only an ${holder.role} can revoke an ${holder.role}'s keys`, {
          holderRole: holder.role,
        });
      }
    }
    if (row.revoked_at) return apiKeyFromRow(row);
    const revokedAt = nowIso();
    await this.db.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', row.id).execute();
    await audit(this.db, { orgId: auth.orgId, event: 'api_key.revoked', actor: auth.principal, targetId: row.id });
    return apiKeyFromRow({ ...row, revoked_at: revokedAt });
  }

  private async visible(auth: Actor, keyId: string) {
    let query = this.db.selectFrom('api_keys').selectAll().where('org_id', '=', auth.orgId).where('id', '=', keyId);
    if (!isAdmin(auth)) query = query.where('member_id', '=', actingMember(auth).id);
    const row = await query.executeTakeFirst();
    if (!row) throw new DomainError('api_key_not_found', `no API key ${keyId}`);
    return row;
  }
}
