import { isIPv6 } from 'node:net';
import {
  type MeshLinkCreated,
  type MeshLinkCreateRequest,
  type MeshLinkInfo,
  type MeshLinkPoll,
  type MeshNode,
  meshLinkSeconds,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type Actor, actingMember, systemPrincipal } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import { recordMeshAudit } from './audit.js';
import type { MeshNodes } from './nodes.js';
import {
  hashesMatch,
  hashToken,
  maxMeshAddresses,
  meshAddress,
  mintLinkCode,
  mintNodeToken,
  mintPollToken,
} from './tokens.js';

type LinkRow = Database['mesh_links'];

/**
 * The budget a request's address draws on: an IPv4 address itself, an IPv6 address its /64 (one host is
 * commonly given a whole /64, so counting each address would give it 2^64 budgets).
 */
export function addressBucket(from: string | undefined): string {
  if (!from) return 'unknown';
  const address = from.replace(/%.*$/, '').toLowerCase();
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::');
  const groups = (part: string | undefined) =>
    part ? part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])) : [];
  const before = groups(head);
  const after = groups(tail);
  const full =
    tail === undefined ? before : [...before, ...Array(8 - before.length - after.length).fill('0'), ...after];
  return `${full
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

export interface MeshLinksOptions {
  /** Links a single address may ask for, a minute: nobody fills the table or walks the code space. */
  linkRate: RateLimiter;
  /** Polls a single address may make, a minute. */
  pollRate: RateLimiter;
  /** Codes an org may look up, approve or deny without finding them, a minute: codes cannot be guessed. */
  missRate: RateLimiter;
  pollIntervalSeconds: number;
  logger: Logger;
  /** The clock links expire by (a test of expiry moves it instead of waiting ten minutes). */
  clock: { now(): number };
}

/**
 * The device link flow, as Tailscale's and the OAuth device flow: a device asks with its public keys and gets
 * a short code and a poll token; a member approves (or denies) the code; the device's next poll takes its node
 * identity, its node token (minted then, once) and its config. Codes are single-use and last ten minutes.
 */
export class MeshLinks {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly nodes: MeshNodes,
    private readonly options: MeshLinksOptions,
  ) {}

  private nowIso(): string {
    return new Date(this.options.clock.now()).toISOString();
  }

  private limit(limiter: RateLimiter, key: string, what: string): void {
    const budget = limiter.take(key);
    if (!budget.ok)
      throw new DomainError('rate_limited', `too many ${what}; retry in ${budget.retryAfterSeconds} s`, {
        retryAfterSeconds: budget.retryAfterSeconds,
      });
  }

  async create(request: MeshLinkCreateRequest, from: string | undefined): Promise<MeshLinkCreated> {
    this.limit(this.options.linkRate, addressBucket(from), 'link requests from this address');
    const now = new Date(this.options.clock.now());
    const expiresAt = new Date(now.getTime() + meshLinkSeconds * 1000).toISOString();
    const poll = mintPollToken();
    const id = newId('meshLink');
    for (let attempt = 0; ; attempt++) {
      const code = mintLinkCode();
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('mesh_links')
            .values({
              id,
              code,
              poll_token_hash: poll.hash,
              name: request.name,
              platform: request.platform,
              version: request.version ?? null,
              public_key: request.publicKey,
              identity_key: request.identityKey,
              requested_from: from ?? null,
              status: 'pending',
              org_id: null,
              node_id: null,
              decided_by: null,
              decided_at: null,
              claimed_at: null,
              created_at: now.toISOString(),
              expires_at: expiresAt,
            })
            .execute();
          await recordMeshAudit(trx, {
            orgId: null,
            action: 'link.created',
            actor: systemPrincipal,
            linkId: id,
            from: from ?? null,
            at: now.toISOString(),
            details: { name: request.name, platform: request.platform, publicKey: request.publicKey },
          });
        });
        return {
          linkId: id,
          code,
          pollToken: poll.token,
          expiresAt,
          pollIntervalSeconds: this.options.pollIntervalSeconds,
        };
      } catch (error) {
        // A code still held by another link (1 in 10^12 a try): draw again.
        if (attempt >= 4) throw error;
        const taken = await this.db.selectFrom('mesh_links').select('id').where('code', '=', code).executeTakeFirst();
        if (!taken) throw error;
      }
    }
  }

  /** Marks a pending link past its time expired (once) and records it; answers the row as it now is. */
  private async expireIfDue(row: LinkRow): Promise<LinkRow> {
    if (row.status !== 'pending' || row.expires_at > this.nowIso()) return row;
    const result = await this.db
      .updateTable('mesh_links')
      .set({ status: 'expired' })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0)
      await recordMeshAudit(this.db, {
        orgId: null,
        action: 'link.expired',
        actor: systemPrincipal,
        linkId: row.id,
        details: { name: row.name },
      });
    return { ...row, status: 'expired' };
  }

  /** Expires every pending link past its time (a sweep, so expiries are recorded without a poll). */
  async expireDue(): Promise<number> {
    const due = await this.db
      .selectFrom('mesh_links')
      .selectAll()
      .where('status', '=', 'pending')
      .where('expires_at', '<=', this.nowIso())
      .limit(500)
      .execute();
    for (const row of due) await this.expireIfDue(row);
    return due.length;
  }

  async poll(linkId: string, authorization: string | undefined, from: string | undefined): Promise<MeshLinkPoll> {
    this.limit(this.options.pollRate, addressBucket(from), 'polls from this address');
    const token = /^Bearer\s+(rtp_[A-Za-z0-9_-]{43})\s*$/i.exec(authorization ?? '')?.[1];
    if (!token)
      throw new DomainError('unauthenticated', 'poll with "Authorization: Bearer <pollToken>" from the link request');
    const found = await this.db.selectFrom('mesh_links').selectAll().where('id', '=', linkId).executeTakeFirst();
    // A wrong token reads as no link at all: the answer says nothing about links one cannot poll.
    if (!found || !hashesMatch(found.poll_token_hash, hashToken(token)))
      throw new DomainError('mesh_link_not_found', `no link ${linkId} for this poll token`);
    const row = await this.expireIfDue(found);
    const base = { linkId: row.id, status: row.status as MeshLinkPoll['status'], expiresAt: row.expires_at };
    if (row.status !== 'approved' || !row.node_id || !row.org_id) return base;
    if (row.claimed_at)
      throw new DomainError(
        'mesh_link_claimed',
        'this link was approved and its node token already handed out; link the device again',
      );
    const minted = mintNodeToken();
    const claimed = await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('mesh_links')
        .set({ claimed_at: this.nowIso() })
        .where('id', '=', row.id)
        .where('claimed_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await trx
        .updateTable('mesh_nodes')
        .set({ token_hash: minted.hash })
        .where('id', '=', row.node_id as string)
        .where('revoked_at', 'is', null)
        .execute();
      return true;
    });
    if (!claimed)
      throw new DomainError(
        'mesh_link_claimed',
        'this link’s node token was already handed out; link the device again',
      );
    const node = await this.db
      .selectFrom('mesh_nodes')
      .selectAll()
      .where('id', '=', row.node_id)
      .executeTakeFirstOrThrow();
    if (node.revoked_at) throw new DomainError('node_revoked', `node ${node.name} was revoked before it connected`);
    const config = (await this.nodes.configs(node.org_id)).get(node.id);
    return {
      ...base,
      node: { id: node.id, name: node.name, address: node.address },
      nodeToken: minted.token,
      ...(config ? { config } : {}),
    };
  }

  /** A pending link by its code, for the org looking at it; misses count against the org's budget. */
  private async pending(actor: Actor, code: string): Promise<LinkRow> {
    const found = await this.db.selectFrom('mesh_links').selectAll().where('code', '=', code).executeTakeFirst();
    const row = found ? await this.expireIfDue(found) : undefined;
    if (!row || row.status === 'expired' || (row.status !== 'pending' && row.org_id !== actor.orgId)) {
      this.limit(this.options.missRate, actor.orgId, 'link codes that match nothing for this organization');
      if (row?.status === 'expired')
        throw new DomainError(
          'mesh_link_expired',
          `link code ${code} expired; run runtools mesh up again on the device`,
        );
      throw new DomainError('mesh_link_not_found', `no pending link with code ${code}`);
    }
    if (row.status !== 'pending')
      throw new DomainError('mesh_link_decided', `link code ${code} was already ${row.status}`, { status: row.status });
    return row;
  }

  private info(row: LinkRow): MeshLinkInfo {
    return {
      linkId: row.id,
      code: row.code,
      status: row.status as MeshLinkInfo['status'],
      name: row.name,
      platform: row.platform,
      version: row.version,
      publicKey: row.public_key,
      requestedFrom: row.requested_from,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async lookup(actor: Actor, code: string): Promise<MeshLinkInfo> {
    requireScopes(actor, ['mesh:read']);
    return this.info(await this.pending(actor, code));
  }

  async approve(actor: Actor, code: string, name: string | undefined, from: string | undefined): Promise<MeshNode> {
    requireScopes(actor, ['mesh:write']);
    const member = actingMember(actor);
    const link = await this.pending(actor, code);
    const nodeId = newId('meshNode');
    await this.db.transaction().execute(async (trx) => {
      const now = this.nowIso();
      // The org's row first: approvals in one org take turns on it (the address and the name are theirs).
      await trx
        .insertInto('mesh_orgs')
        .values({ org_id: actor.orgId, next_address: 1, revision: 0 })
        .onConflict((conflict) => conflict.column('org_id').doNothing())
        .execute();
      const org = await trx
        .updateTable('mesh_orgs')
        .set((eb) => ({ next_address: eb('next_address', '+', 1), revision: eb('revision', '+', 1) }))
        .where('org_id', '=', actor.orgId)
        .returning(['next_address'])
        .executeTakeFirstOrThrow();
      const index = org.next_address - 1;
      if (index > maxMeshAddresses)
        throw new DomainError('resource_limit_exceeded', 'this organization has used every mesh address');
      // Two peers with one key are one peer to WireGuard: the later section takes the other's allowed IPs and
      // endpoint at every node, so a device asking with a key it copied (keys are public) cut that node off.
      const sameKey = await trx
        .selectFrom('mesh_nodes')
        .select('name')
        .where('org_id', '=', actor.orgId)
        .where('public_key', '=', link.public_key)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (sameKey)
        throw new DomainError(
          'mesh_key_in_use',
          `node ${sameKey.name} already has this device's WireGuard key; revoke it first if this is the same device`,
          { node: sameKey.name },
        );
      const taken = new Set(
        (
          await trx
            .selectFrom('mesh_nodes')
            .select('name')
            .where('org_id', '=', actor.orgId)
            .where('revoked_at', 'is', null)
            .execute()
        ).map((row) => row.name),
      );
      const wanted = name ?? link.name;
      let unique = wanted;
      for (let suffix = 2; taken.has(unique); suffix++) unique = `${wanted.slice(0, 58)}-${suffix}`;
      const decided = await trx
        .updateTable('mesh_links')
        .set({
          status: 'approved',
          org_id: actor.orgId,
          node_id: nodeId,
          decided_by: actor.principal.id,
          decided_at: now,
        })
        .where('id', '=', link.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(decided.numUpdatedRows) === 0)
        throw new DomainError('mesh_link_decided', `link code ${code} was decided by someone else just now`);
      await trx
        .insertInto('mesh_nodes')
        .values({
          id: nodeId,
          org_id: actor.orgId,
          name: unique,
          address: meshAddress(index),
          public_key: link.public_key,
          identity_key: link.identity_key,
          platform: link.platform,
          version: link.version,
          owner_member_id: member.id,
          token_hash: null,
          root: null,
          confined: 0,
          listen_port: null,
          endpoint: null,
          connected_at: null,
          disconnected_at: null,
          last_seen_at: null,
          created_at: now,
          revoked_at: null,
          revoked_by: null,
        })
        .execute();
      await trx.updateTable('mesh_audit').set({ org_id: actor.orgId }).where('link_id', '=', link.id).execute();
      await recordMeshAudit(trx, {
        orgId: actor.orgId,
        action: 'link.approved',
        actor: actor.principal,
        linkId: link.id,
        nodeId,
        from: from ?? null,
        details: { code, name: unique, address: meshAddress(index), owner: member.id },
      });
    });
    this.nodes.changes?.orgChanged(actor.orgId);
    return this.nodes.get(actor, nodeId);
  }

  async deny(actor: Actor, code: string, from: string | undefined): Promise<MeshLinkInfo> {
    requireScopes(actor, ['mesh:write']);
    const link = await this.pending(actor, code);
    await this.db.transaction().execute(async (trx) => {
      const decided = await trx
        .updateTable('mesh_links')
        .set({ status: 'denied', org_id: actor.orgId, decided_by: actor.principal.id, decided_at: this.nowIso() })
        .where('id', '=', link.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(decided.numUpdatedRows) === 0)
        throw new DomainError('mesh_link_decided', `link code ${code} was decided by someone else just now`);
      await trx.updateTable('mesh_audit').set({ org_id: actor.orgId }).where('link_id', '=', link.id).execute();
      await recordMeshAudit(trx, {
        orgId: actor.orgId,
        action: 'link.denied',
        actor: actor.principal,
        linkId: link.id,
        from: from ?? null,
        details: { code, name: link.name },
      });
    });
    this.options.logger.info({ linkId: link.id }, 'mesh link denied');
    return this.info({ ...link, status: 'denied' });
  }
}
