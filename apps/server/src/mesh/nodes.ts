import {
  type ConcreteScope,
  expandScopes,
  type MeshNode,
  type MeshNodeConfig,
  meshAddressPrefixLength,
  type Role,
  roleCeiling,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import { type Actor, actingMember, type Principal } from '../auth/actor.js';
import { requireScopes } from '../auth/authenticate.js';
import { inPage, keysetPage, newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { recordMeshAudit } from './audit.js';
import { hashToken, nodeTokenPattern } from './tokens.js';

type NodeRow = Database['mesh_nodes'];

/** What a node's own token may do, on the routes that take one, cut to its owner's role. */
const nodeGrant = ['agents:read', 'agents:write', 'mesh:read'];

/** A node acting with its token: for its owner, on the few routes that accept a node. */
export interface NodeActor extends Actor {
  principal: { kind: 'node'; id: string };
  node: { id: string; name: string };
}

/**
 * Whether a node acts (its token, or work it started). Name the node by `principal.id`: an actor resolved again
 * for stored work (`resolveActor`) has no `node` field.
 */
export function isNodeActor(actor: Actor): actor is NodeActor {
  return actor.principal.kind === 'node';
}

/**
 * Revokes every active node a member owns, in the caller's transaction: the member is leaving the org, and a
 * device of theirs would otherwise stay a peer of every node of it, connected, and open to members they had
 * allowed. Each control plane's sweep then closes their channels and pushes the org's new configs.
 */
export async function revokeNodesOwnedBy(
  db: Kysely<Database>,
  orgId: string,
  memberId: string,
  actor: Principal,
): Promise<number> {
  const nodes = await db
    .selectFrom('mesh_nodes')
    .select(['id', 'name', 'address'])
    .where('org_id', '=', orgId)
    .where('owner_member_id', '=', memberId)
    .where('revoked_at', 'is', null)
    .execute();
  if (nodes.length === 0) return 0;
  const now = nowIso();
  await db
    .updateTable('mesh_nodes')
    .set({ revoked_at: now, revoked_by: actor.id })
    .where(
      'id',
      'in',
      nodes.map((node) => node.id),
    )
    .where('revoked_at', 'is', null)
    .execute();
  await db
    .updateTable('mesh_orgs')
    .set((eb) => ({ revision: eb('revision', '+', 1) }))
    .where('org_id', '=', orgId)
    .execute();
  for (const node of nodes)
    await recordMeshAudit(db, {
      orgId,
      action: 'node.revoked',
      actor,
      nodeId: node.id,
      at: now,
      details: { name: node.name, address: node.address, reason: 'its owner was removed from the organization' },
    });
  return nodes.length;
}

/** Told when an org's mesh changed (a node joined, left or moved) or a node was revoked, to push it to devices. */
export interface MeshChanges {
  orgChanged(orgId: string): void;
  nodeRevoked(nodeId: string): void;
}

export interface MeshNodesOptions {
  /** How often devices send heartbeats; a node is online while it has been heard from within three of them. */
  heartbeatSeconds: number;
}

/**
 * The org's nodes: listing, their WireGuard config, grants, revocation, and node tokens as actors. A node is
 * a row; whether its device is connected right now is the channel's business (`channels.ts`), recorded here
 * as connected/disconnected/last seen.
 */
export class MeshNodes {
  changes: MeshChanges | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: MeshNodesOptions,
  ) {}

  /** The node a token belongs to, as an actor; refused once the node is revoked or its owner gone. */
  async authenticate(token: string): Promise<NodeActor> {
    if (!nodeTokenPattern.test(token)) throw new DomainError('invalid_node_token', 'the node token is malformed');
    const row = await this.db
      .selectFrom('mesh_nodes')
      .innerJoin('members', 'members.id', 'mesh_nodes.owner_member_id')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select([
        'mesh_nodes.id',
        'mesh_nodes.name',
        'mesh_nodes.org_id',
        'mesh_nodes.revoked_at',
        'members.id as memberId',
        'members.role',
        'users.id as userId',
        'users.email',
      ])
      .where('mesh_nodes.token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row) throw new DomainError('invalid_node_token', 'the node token is not valid (link the device again)');
    if (row.revoked_at)
      throw new DomainError('invalid_node_token', `the node was revoked at ${row.revoked_at}; link the device again`, {
        revoked: true,
      });
    const role = row.role as Role;
    const ceiling = roleCeiling(role);
    return {
      orgId: row.org_id,
      principal: { kind: 'node', id: row.id },
      scopes: new Set([...expandScopes(nodeGrant)].filter((scope) => ceiling.has(scope as ConcreteScope))),
      role,
      member: { id: row.memberId, userId: row.userId, email: row.email },
      granted: nodeGrant,
      expiresAt: null,
      node: { id: row.id, name: row.name },
    };
  }

  /** A node of the actor's org by id or name (an active one by name; a revoked one only by id). */
  async row(actor: Actor, ref: string): Promise<NodeRow> {
    let query = this.db.selectFrom('mesh_nodes').selectAll().where('org_id', '=', actor.orgId);
    query = ref.startsWith('mnd_')
      ? query.where('id', '=', ref)
      : query.where('name', '=', ref).where('revoked_at', 'is', null);
    const row = await query.executeTakeFirst();
    if (!row) throw new DomainError('mesh_node_not_found', `no node ${ref} in this organization`);
    return row;
  }

  online(row: Pick<NodeRow, 'connected_at' | 'disconnected_at' | 'last_seen_at' | 'revoked_at'>, now = Date.now()) {
    if (row.revoked_at || !row.connected_at || !row.last_seen_at) return false;
    if (row.disconnected_at && row.disconnected_at >= row.connected_at) return false;
    return now - Date.parse(row.last_seen_at) <= this.options.heartbeatSeconds * 3000;
  }

  private async view(rows: NodeRow[]): Promise<MeshNode[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const owners = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select(['members.id', 'users.email'])
      .where(
        'members.id',
        'in',
        rows.map((row) => row.owner_member_id),
      )
      .execute();
    const grants = await this.db
      .selectFrom('mesh_node_grants')
      .innerJoin('members', 'members.id', 'mesh_node_grants.member_id')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select(['mesh_node_grants.node_id', 'members.id', 'users.email'])
      .where('mesh_node_grants.node_id', 'in', ids)
      .orderBy('mesh_node_grants.created_at')
      .execute();
    const emailOf = new Map(owners.map((owner) => [owner.id, owner.email]));
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      address: row.address,
      status: row.revoked_at ? 'revoked' : 'active',
      platform: row.platform,
      version: row.version,
      publicKey: row.public_key,
      owner: { memberId: row.owner_member_id, email: emailOf.get(row.owner_member_id) ?? '(removed member)' },
      allowedMembers: grants
        .filter((grant) => grant.node_id === row.id)
        .map((grant) => ({ memberId: grant.id, email: grant.email })),
      online: this.online(row),
      lastSeenAt: row.last_seen_at,
      endpoint: row.endpoint,
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
    }));
  }

  async list(actor: Actor, query: PageRequest & { status?: 'active' | 'revoked' | undefined }) {
    requireScopes(actor, ['mesh:read']);
    const page = await keysetPage(
      query,
      newestFirst,
      (row: NodeRow) => [row.created_at, row.id],
      async (keyset) => {
        let select = this.db.selectFrom('mesh_nodes').selectAll().where('org_id', '=', actor.orgId);
        if (query.status === 'active') select = select.where('revoked_at', 'is', null);
        if (query.status === 'revoked') select = select.where('revoked_at', 'is not', null);
        return inPage(select, keyset).execute();
      },
    );
    return { data: await this.view(page.data), nextCursor: page.nextCursor };
  }

  async get(actor: Actor, ref: string): Promise<MeshNode> {
    requireScopes(actor, ['mesh:read']);
    const [node] = await this.view([await this.row(actor, ref)]);
    return node as MeshNode;
  }

  /** The org's current config revision. */
  async revision(orgId: string): Promise<number> {
    const row = await this.db.selectFrom('mesh_orgs').select('revision').where('org_id', '=', orgId).executeTakeFirst();
    return row?.revision ?? 0;
  }

  /**
   * The WireGuard config of each active node of an org (by node id): its interface, and every other active
   * node as a peer. Built in one read, for pushing to every connected device at once.
   */
  async configs(orgId: string): Promise<Map<string, MeshNodeConfig>> {
    const [nodes, revision] = await Promise.all([
      this.db
        .selectFrom('mesh_nodes')
        .select(['id', 'name', 'address', 'public_key', 'endpoint', 'listen_port'])
        .where('org_id', '=', orgId)
        .where('revoked_at', 'is', null)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
      this.revision(orgId),
    ]);
    const configs = new Map<string, MeshNodeConfig>();
    for (const node of nodes)
      configs.set(node.id, {
        node: { id: node.id, name: node.name, address: node.address },
        interface: {
          address: `${node.address}/${meshAddressPrefixLength}`,
          publicKey: node.public_key,
          listenPort: node.listen_port,
        },
        peers: nodes
          .filter((peer) => peer.id !== node.id)
          .map((peer) => ({
            nodeId: peer.id,
            name: peer.name,
            publicKey: peer.public_key,
            address: peer.address,
            allowedIps: [`${peer.address}/32`],
            endpoint: peer.endpoint,
          })),
        revision,
      });
    return configs;
  }

  /** A node's config: the node itself (its token), or a member with mesh:read. Recorded in the audit log. */
  async config(actor: Actor, ref: string, from: string | undefined): Promise<MeshNodeConfig> {
    requireScopes(actor, ['mesh:read']);
    const row = await this.row(actor, ref);
    if (isNodeActor(actor) && actor.principal.id !== row.id)
      throw new DomainError(
        'mesh_node_not_found',
        `no node ${ref} for this node's token (a node reads its own config)`,
      );
    if (row.revoked_at) throw new DomainError('node_revoked', `node ${row.name} was revoked at ${row.revoked_at}`);
    const config = (await this.configs(actor.orgId)).get(row.id);
    if (!config) throw new DomainError('mesh_node_not_found', `no node ${ref} in this organization`);
    await recordMeshAudit(this.db, {
      orgId: actor.orgId,
      action: 'node.config_fetched',
      actor: actor.principal,
      nodeId: row.id,
      from: from ?? null,
      details: { revision: config.revision },
    });
    return config;
  }

  /** Owners and admins manage every node; a member only the nodes they own. */
  private manage(actor: Actor, row: NodeRow): void {
    requireScopes(actor, ['mesh:write']);
    const member = actingMember(actor);
    if (member.role === 'member' && member.id !== row.owner_member_id)
      throw new DomainError('role_forbidden', `only node ${row.name}'s owner or an admin may change it`);
  }

  async revoke(actor: Actor, ref: string, from: string | undefined): Promise<MeshNode> {
    const row = await this.row(actor, ref);
    this.manage(actor, row);
    if (!row.revoked_at) {
      const revoked = await this.db.transaction().execute(async (trx) => {
        const now = nowIso();
        const result = await trx
          .updateTable('mesh_nodes')
          .set({ revoked_at: now, revoked_by: actor.principal.id })
          .where('id', '=', row.id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) return false;
        await trx
          .updateTable('mesh_orgs')
          .set((eb) => ({ revision: eb('revision', '+', 1) }))
          .where('org_id', '=', row.org_id)
          .execute();
        await recordMeshAudit(trx, {
          orgId: row.org_id,
          action: 'node.revoked',
          actor: actor.principal,
          nodeId: row.id,
          from: from ?? null,
          details: { name: row.name, address: row.address },
        });
        return true;
      });
      if (revoked) {
        this.changes?.nodeRevoked(row.id);
        this.changes?.orgChanged(row.org_id);
      }
    }
    return this.get(actor, row.id);
  }

  private async memberOf(actor: Actor, ref: string) {
    const member = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select(['members.id', 'users.email'])
      .where('members.org_id', '=', actor.orgId)
      .where(
        ref.startsWith('mem_') ? 'members.id' : 'users.email',
        '=',
        ref.startsWith('mem_') ? ref : ref.toLowerCase(),
      )
      .executeTakeFirst();
    if (!member) throw new DomainError('member_not_found', `no member ${ref} in this organization`);
    return member;
  }

  async allow(actor: Actor, ref: string, memberRef: string, from: string | undefined): Promise<MeshNode> {
    const row = await this.row(actor, ref);
    this.manage(actor, row);
    if (row.revoked_at) throw new DomainError('node_revoked', `node ${row.name} was revoked`);
    const member = await this.memberOf(actor, memberRef);
    if (member.id !== row.owner_member_id) {
      const inserted = await this.db
        .insertInto('mesh_node_grants')
        .values({ node_id: row.id, member_id: member.id, granted_by: actor.principal.id, created_at: nowIso() })
        .onConflict((conflict) => conflict.columns(['node_id', 'member_id']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0)
        await recordMeshAudit(this.db, {
          orgId: actor.orgId,
          action: 'node.allowed',
          actor: actor.principal,
          nodeId: row.id,
          from: from ?? null,
          details: { memberId: member.id, email: member.email },
        });
    }
    return this.get(actor, row.id);
  }

  async disallow(actor: Actor, ref: string, memberRef: string, from: string | undefined): Promise<MeshNode> {
    const row = await this.row(actor, ref);
    this.manage(actor, row);
    const member = await this.memberOf(actor, memberRef);
    const deleted = await this.db
      .deleteFrom('mesh_node_grants')
      .where('node_id', '=', row.id)
      .where('member_id', '=', member.id)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) > 0)
      await recordMeshAudit(this.db, {
        orgId: actor.orgId,
        action: 'node.disallowed',
        actor: actor.principal,
        nodeId: row.id,
        from: from ?? null,
        details: { memberId: member.id, email: member.email },
      });
    return this.get(actor, row.id);
  }

  /**
   * The node a run may dispatch to: active, in the actor's org, owned by the actor's member or granted to
   * them. Throws the refusal.
   */
  async dispatchTarget(actor: Actor, ref: string): Promise<NodeRow> {
    const row = await this.row(actor, ref).catch((error: unknown) => {
      if (error instanceof DomainError && error.code === 'mesh_node_not_found')
        throw new DomainError('mesh_node_not_found', `the agent's device ${ref} is not a node of this organization`);
      throw error;
    });
    if (row.revoked_at) throw new DomainError('node_revoked', `device ${row.name} was revoked at ${row.revoked_at}`);
    // A device's token runs agents on that device only: a token taken from one device opens no other.
    if (isNodeActor(actor) && actor.principal.id !== row.id)
      throw new DomainError('node_not_allowed', `a device's token runs agents on that device only, not on ${row.name}`);
    const member = actingMember(actor);
    if (member.id === row.owner_member_id) return row;
    const grant = await this.db
      .selectFrom('mesh_node_grants')
      .select('member_id')
      .where('node_id', '=', row.id)
      .where('member_id', '=', member.id)
      .executeTakeFirst();
    if (!grant)
      throw new DomainError(
        'node_not_allowed',
        `only device ${row.name}'s owner, or members they allow (runtools mesh allow), may run agents on it`,
      );
    return row;
  }
}
