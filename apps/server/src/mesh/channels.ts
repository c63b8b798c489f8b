import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type MeshDeviceMessage as DeviceMessage,
  MeshDeviceMessage,
  type MeshNodeConfig,
  MeshOperation,
  type MeshServerMessage,
  maxMeshMessageBytes,
  meshChannelPath,
  meshCloseCodes,
} from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { keyFromHeaders } from '../auth/authenticate.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { nowIso } from '../ids.js';
import { refuseUpgrade } from '../sandboxes/access.js';
import { recordMeshAudit } from './audit.js';
import type { MeshLinks } from './links.js';
import type { MeshChanges, MeshNodes, NodeActor } from './nodes.js';
import { verifyChallenge } from './tokens.js';

/** How long a device has to answer the challenge. */
const helloTimeoutMs = 10_000;
/** How long a call may outlive its own timeout before the device is taken to be gone for it. */
const callGraceMs = 15_000;
/** Calls one node may have in flight. */
const maxCallsPerNode = 64;
/** How often a plane looks for operations relayed to its devices, and a relaying plane for their answers. */
const relayPollMs = 100;
/**
 * How long an operation (and a resumed local run) waits for its device to come back before node_offline: a
 * device reconnects within seconds of a control plane's restart (its backoff tops out at 5 s).
 */
export const deviceReturnMs = 20_000;
/** Relayed operations older than this are deleted, answered or not. */
const relayKeepMs = 60 * 60_000;

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Channel {
  nodeId: string;
  orgId: string;
  socket: WebSocket;
  pushedRevision: number;
  calls: Map<string, PendingCall>;
  /** Why it closed, for the calls it fails. */
  closing?: DomainError;
  lastSeenWritten: number;
  /** When anything (a message, a pong) last came from the device: a channel silent too long is dead. */
  lastHeard: number;
  /** The `connected_at` this connection wrote: a newer one in the database is a newer connection elsewhere. */
  connectedAt: string;
}

/** A failure the device reported for an operation (outside its root, a missing file…), for the model. */
export class DeviceOperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface MeshChannelsOptions {
  heartbeatSeconds: number;
  /** How often this process checks for revocations and config changes made by other control planes. */
  sweepMs: number;
}

/**
 * The node channels this process holds: one WebSocket per connected device (`/v1/mesh/channel`). It
 * authenticates a device by its node token and by a signature of a fresh challenge with its identity key,
 * records it online, pushes its config whenever its org's mesh changes, carries the operations local agents
 * dispatch to it, and closes it at once when the node is revoked (here, or on another control plane: a sweep
 * reads revocations and config revisions every second).
 */
export class MeshChannels implements MeshChanges {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: maxMeshMessageBytes });
  private readonly channels = new Map<string, Channel>();
  private readonly sweep: NodeJS.Timeout;
  private sweeping = false;
  private lastLinkSweep = 0;
  private closed = false;
  /** Takes operations other control planes left for the devices connected here. */
  private readonly relayPoll: NodeJS.Timeout;
  private relaying = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly nodes: MeshNodes,
    private readonly links: MeshLinks,
    private readonly options: MeshChannelsOptions,
    private readonly logger: Logger,
  ) {
    nodes.changes = this;
    this.sweep = setInterval(() => void this.runSweep(), options.sweepMs);
    this.sweep.unref();
    this.relayPoll = setInterval(() => void this.takeRelayed(), relayPollMs);
    this.relayPoll.unref();
  }

  handles(url: string | undefined): boolean {
    if (!URL.canParse(url ?? '/', 'http://x')) return false;
    return new URL(url ?? '/', 'http://x').pathname === meshChannelPath;
  }

  /** Whether a node's device is connected to this process now. */
  connected(nodeId: string): boolean {
    return this.channels.get(nodeId)?.socket.readyState === 1;
  }

  /** Whether a node's device can be called from here: connected here, or online through another plane. */
  async reachable(nodeId: string): Promise<boolean> {
    if (this.connected(nodeId)) return true;
    const row = await this.db
      .selectFrom('mesh_nodes')
      .select(['connected_at', 'disconnected_at', 'last_seen_at', 'revoked_at'])
      .where('id', '=', nodeId)
      .executeTakeFirst();
    return row !== undefined && this.nodes.online(row);
  }

  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let actor: NodeActor;
    try {
      const token = keyFromHeaders({ get: (name) => [request.headers[name]].flat()[0] });
      if (!token) throw new DomainError('unauthenticated', 'connect with "Authorization: Bearer <node token>"');
      actor = await this.nodes.authenticate(token);
    } catch (error) {
      // A device revoked while it was away is told so (its helper tears down and forgets the node), not
      // merely refused.
      const revoked =
        error instanceof DomainError && (error.details as { revoked?: boolean } | undefined)?.revoked === true;
      refuseUpgrade(
        socket,
        revoked ? new DomainError('node_revoked', error.message) : error,
        'the node channel failed',
      );
      return;
    }
    if (this.closed) {
      refuseUpgrade(socket, new DomainError('service_unavailable', 'the server is stopping'), 'stopping');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const from = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? null;
      void this.open(ws, actor, from).catch((error: unknown) => {
        this.logger.warn({ err: error, nodeId: actor.node.id }, 'mesh channel failed');
        ws.close(1011, 'internal error');
      });
    });
  }

  private send(socket: WebSocket, message: MeshServerMessage): void {
    if (socket.readyState === 1) socket.send(JSON.stringify(message));
  }

  private async open(socket: WebSocket, actor: NodeActor, from: string | null): Promise<void> {
    const nonce = randomBytes(32).toString('base64url');
    socket.on('error', () => socket.terminate());
    const hello = await new Promise<Extract<DeviceMessage, { type: 'hello' }> | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), helloTimeoutMs);
      socket.once('message', (data, isBinary) => {
        clearTimeout(timer);
        const message = isBinary ? undefined : parse(data.toString());
        resolve(message?.type === 'hello' ? message : undefined);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      this.send(socket, { type: 'challenge', nonce });
    });
    const node = await this.db.selectFrom('mesh_nodes').selectAll().where('id', '=', actor.node.id).executeTakeFirst();
    if (!hello || !node || !verifyChallenge(node.identity_key, nonce, hello.signature)) {
      socket.close(meshCloseCodes.refused, 'the challenge was not signed with the identity key this node linked with');
      return;
    }
    if (node.revoked_at) {
      socket.close(meshCloseCodes.revoked, 'this node was revoked');
      return;
    }
    const previous = this.channels.get(node.id);
    if (previous) this.drop(previous, meshCloseCodes.replaced, 'replaced by a newer connection of this node');
    const endpoint = hello.listenPort && from ? `${from.includes(':') ? `[${from}]` : from}:${hello.listenPort}` : null;
    const now = nowIso();
    await this.db
      .updateTable('mesh_nodes')
      .set({
        connected_at: now,
        last_seen_at: now,
        endpoint,
        listen_port: hello.listenPort,
        root: hello.root,
        confined: hello.confined ? 1 : 0,
        ...(hello.version ? { version: hello.version } : {}),
      })
      .where('id', '=', node.id)
      .execute();
    const moved = endpoint !== node.endpoint || hello.listenPort !== node.listen_port;
    if (moved)
      await this.db
        .updateTable('mesh_orgs')
        .set((eb) => ({ revision: eb('revision', '+', 1) }))
        .where('org_id', '=', node.org_id)
        .execute();
    await recordMeshAudit(this.db, {
      orgId: node.org_id,
      action: 'node.connected',
      actor: actor.principal,
      nodeId: node.id,
      from,
      details: { endpoint, version: hello.version ?? null, confined: hello.confined },
    });
    const channel: Channel = {
      nodeId: node.id,
      orgId: node.org_id,
      socket,
      pushedRevision: -1,
      calls: new Map(),
      lastSeenWritten: Date.now(),
      lastHeard: Date.now(),
      connectedAt: now,
    };
    if (socket.readyState !== 1 || this.closed) {
      socket.close(1001, 'the server is stopping');
      return;
    }
    // Another connection of the node may have been set up meanwhile (both passed the check above before
    // either was kept): one is kept, the newer by the time each recorded, so that no channel is left open
    // unseen by a revocation, and the sweep (which takes a newer connected_at for a newer connection on another
    // plane) does not drop the one kept.
    const meanwhile = this.channels.get(node.id);
    if (meanwhile && meanwhile.connectedAt > channel.connectedAt) {
      this.drop(channel, meshCloseCodes.replaced, 'replaced by a newer connection of this node');
      return;
    }
    if (meanwhile) this.drop(meanwhile, meshCloseCodes.replaced, 'replaced by a newer connection of this node');
    this.channels.set(node.id, channel);
    socket.on('message', (data, isBinary) => {
      channel.lastHeard = Date.now();
      const message = isBinary ? undefined : parse(data.toString());
      if (message) this.receive(channel, message);
    });
    socket.on('pong', () => {
      channel.lastHeard = Date.now();
    });
    socket.on('close', () => void this.closedChannel(channel));
    const configs = await this.nodes.configs(node.org_id);
    const config = configs.get(node.id);
    if (!config) {
      this.drop(channel, meshCloseCodes.revoked, 'this node was revoked');
      return;
    }
    channel.pushedRevision = config.revision;
    this.send(socket, {
      type: 'welcome',
      node: config.node,
      config,
      heartbeatSeconds: this.options.heartbeatSeconds,
    });
    if (moved) this.push(node.org_id, configs);
  }

  private receive(channel: Channel, message: DeviceMessage): void {
    if (message.type === 'heartbeat') {
      // One write a heartbeat at most, however chatty a device is.
      if (Date.now() - channel.lastSeenWritten >= (this.options.heartbeatSeconds * 1000) / 2) {
        channel.lastSeenWritten = Date.now();
        void this.db
          .updateTable('mesh_nodes')
          .set({ last_seen_at: nowIso() })
          .where('id', '=', channel.nodeId)
          .execute()
          .catch((error: unknown) => this.logger.warn({ err: error }, 'mesh heartbeat not recorded'));
      }
      return;
    }
    if (message.type === 'result') {
      const call = channel.calls.get(message.id);
      if (!call) return;
      channel.calls.delete(message.id);
      clearTimeout(call.timer);
      if (message.ok) call.resolve(message.value);
      else
        call.reject(
          new DeviceOperationError(
            message.error?.code ?? 'failed',
            message.error?.message ?? 'the device could not do it',
          ),
        );
    }
  }

  private async closedChannel(channel: Channel): Promise<void> {
    const reason =
      channel.closing ?? new DomainError('node_offline', 'the device disconnected while it was doing this');
    for (const call of channel.calls.values()) {
      clearTimeout(call.timer);
      call.reject(reason);
    }
    channel.calls.clear();
    if (this.channels.get(channel.nodeId) !== channel) return;
    this.channels.delete(channel.nodeId);
    try {
      // Only if no newer connection (on another control plane) has been recorded since this one.
      await this.db
        .updateTable('mesh_nodes')
        .set({ disconnected_at: nowIso() })
        .where('id', '=', channel.nodeId)
        .where('connected_at', '=', channel.connectedAt)
        .execute();
      await recordMeshAudit(this.db, {
        orgId: channel.orgId,
        action: 'node.disconnected',
        actor: { kind: 'node', id: channel.nodeId },
        nodeId: channel.nodeId,
        details: channel.closing ? { reason: channel.closing.code } : {},
      });
    } catch (error) {
      // The database may be closing with the server.
      this.logger.debug({ err: error }, 'mesh disconnect not recorded');
    }
  }

  private drop(channel: Channel, code: number, reason: string, failure?: DomainError): void {
    channel.closing = failure;
    if (this.channels.get(channel.nodeId) === channel) this.channels.delete(channel.nodeId);
    for (const call of channel.calls.values()) {
      clearTimeout(call.timer);
      call.reject(failure ?? new DomainError('node_offline', reason));
    }
    channel.calls.clear();
    channel.socket.close(code, reason);
    // A device that does not close its end is cut off.
    setTimeout(() => channel.socket.terminate(), 2000).unref();
  }

  /**
   * Runs one operation on a node's device and answers what it returned. Throws `node_offline` when the device
   * is not connected here (or goes away), `node_revoked` when the node is revoked meanwhile, and a
   * `DeviceOperationError` for what the device refused.
   */
  async call(nodeId: string, operation: MeshOperation, timeoutMs: number): Promise<unknown> {
    const channel = this.channels.get(nodeId);
    if (channel?.socket.readyState !== 1) {
      // Connected to another control plane: the operation goes through the database to the plane that holds it.
      // Connected nowhere: a device reconnecting after a control plane's restart gets some seconds to come back.
      for (const deadline = Date.now() + deviceReturnMs; ; ) {
        if (this.connected(nodeId)) return this.call(nodeId, operation, timeoutMs);
        if (await this.reachable(nodeId)) return this.relay(nodeId, operation, timeoutMs);
        if (Date.now() > deadline || this.closed)
          throw new DomainError('node_offline', 'the device is not connected to the control plane');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    if (channel.calls.size >= maxCallsPerNode)
      throw new DomainError('resource_limit_exceeded', `a device takes at most ${maxCallsPerNode} calls at once`);
    const id = randomBytes(12).toString('base64url');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        channel.calls.delete(id);
        this.send(channel.socket, { type: 'cancel', id });
        reject(new DeviceOperationError('failed', `the device did not answer within ${timeoutMs + callGraceMs} ms`));
      }, timeoutMs + callGraceMs);
      channel.calls.set(id, { resolve, reject, timer });
      this.send(channel.socket, { type: 'call', id, operation });
    });
  }

  /** Leaves an operation for the plane holding the node's channel and waits for its answer. */
  private async relay(nodeId: string, operation: MeshOperation, timeoutMs: number): Promise<unknown> {
    const id = `mcl_${randomBytes(15).toString('base64url')}`;
    const now = Date.now();
    const expires = now + timeoutMs + callGraceMs;
    await this.db
      .insertInto('mesh_calls')
      .values({
        id,
        node_id: nodeId,
        operation: JSON.stringify(operation),
        timeout_ms: timeoutMs,
        status: 'pending',
        result: null,
        created_at: new Date(now).toISOString(),
        expires_at: new Date(expires).toISOString(),
      })
      .execute();
    try {
      for (let polls = 0; ; polls++) {
        await new Promise((resolve) => setTimeout(resolve, relayPollMs));
        const row = await this.db
          .selectFrom('mesh_calls')
          .select(['status', 'result'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (row?.status === 'done') return row.result === null ? undefined : JSON.parse(row.result);
        if (row?.status === 'failed') {
          const failure = JSON.parse(row.result ?? '{}') as { kind?: string; code?: string; message?: string };
          if (failure.kind === 'device')
            throw new DeviceOperationError(failure.code ?? 'failed', failure.message ?? 'the device could not do it');
          throw new DomainError(
            failure.code === 'node_revoked' ? 'node_revoked' : 'node_offline',
            failure.message ?? 'the device went away while it was doing this',
          );
        }
        if (Date.now() > expires)
          throw new DeviceOperationError('failed', `the device did not answer within ${timeoutMs + callGraceMs} ms`);
        // Not taken yet, and its device gone meanwhile (or revoked): no plane will take it.
        // (A device reconnecting after a control plane's restart gets some seconds to come back first.)
        if (
          row?.status === 'pending' &&
          polls % 10 === 9 &&
          Date.now() - now > deviceReturnMs &&
          !(await this.reachable(nodeId))
        )
          throw new DomainError('node_offline', 'the device is not connected to any control plane');
      }
    } finally {
      await this.db
        .deleteFrom('mesh_calls')
        .where('id', '=', id)
        .execute()
        .catch(() => {});
    }
  }

  /** Takes the operations relayed to devices connected here, runs them, and writes back their answers. */
  private async takeRelayed(): Promise<void> {
    if (this.relaying || this.closed || this.channels.size === 0) return;
    this.relaying = true;
    try {
      const taken = await this.db
        .updateTable('mesh_calls')
        .set({ status: 'taken' })
        .where('status', '=', 'pending')
        .where('node_id', 'in', [...this.channels.keys()])
        .returning(['id', 'node_id', 'operation', 'timeout_ms'])
        .execute();
      for (const call of taken) {
        const answer = (status: 'done' | 'failed', result: unknown) => {
          let text: string | null;
          try {
            text = result === undefined ? null : JSON.stringify(result);
          } catch {
            // What a device sent JSON can read but not write again (nested past the stack): not a result.
            status = 'failed';
            text = JSON.stringify({
              kind: 'domain',
              code: 'node_offline',
              message: 'the device answered something that is not a result of this operation',
            });
          }
          return this.db
            .updateTable('mesh_calls')
            .set({ status, result: text })
            .where('id', '=', call.id)
            .execute()
            .catch((error: unknown) => this.logger.warn({ err: error }, 'a relayed mesh answer was not stored'));
        };
        const operation = MeshOperation.safeParse(JSON.parse(call.operation));
        if (!operation.success) {
          void answer('failed', { kind: 'domain', code: 'node_offline', message: 'not an operation' });
          continue;
        }
        void this.call(call.node_id, operation.data, call.timeout_ms).then(
          (value) => answer('done', value),
          (error: unknown) =>
            answer(
              'failed',
              error instanceof DeviceOperationError
                ? { kind: 'device', code: error.code, message: error.message }
                : {
                    kind: 'domain',
                    code: error instanceof DomainError ? error.code : 'node_offline',
                    message: (error as Error).message,
                  },
            ),
        );
      }
      if (Math.random() < 0.01)
        await this.db
          .deleteFrom('mesh_calls')
          .where('created_at', '<', new Date(Date.now() - relayKeepMs).toISOString())
          .execute();
    } catch (error) {
      if (!this.closed) this.logger.warn({ err: error }, 'taking relayed mesh calls failed');
    } finally {
      this.relaying = false;
    }
  }

  nodeRevoked(nodeId: string): void {
    const channel = this.channels.get(nodeId);
    if (!channel) return;
    this.send(channel.socket, { type: 'revoked', reason: 'this node was revoked' });
    this.drop(
      channel,
      meshCloseCodes.revoked,
      'this node was revoked',
      new DomainError('node_revoked', 'the device was revoked while it was doing this'),
    );
  }

  orgChanged(orgId: string): void {
    void this.nodes
      .configs(orgId)
      .then((configs) => this.push(orgId, configs))
      .catch((error: unknown) => this.logger.warn({ err: error, orgId }, 'mesh config not pushed'));
  }

  /** Sends each connected node of the org its config, where it has not had this revision yet. */
  private push(orgId: string, configs: Map<string, MeshNodeConfig>): void {
    for (const channel of this.channels.values()) {
      if (channel.orgId !== orgId) continue;
      const config = configs.get(channel.nodeId);
      if (!config || config.revision <= channel.pushedRevision) continue;
      channel.pushedRevision = config.revision;
      this.send(channel.socket, { type: 'config', config });
    }
  }

  /** Catches what other control planes did: revocations of nodes connected here, and config revisions. */
  private async runSweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      if (Date.now() - this.lastLinkSweep > 10_000) {
        this.lastLinkSweep = Date.now();
        await this.links.expireDue();
      }
      this.checkLiveness();
      const ids = [...this.channels.keys()];
      if (ids.length === 0) return;
      const rows = await this.db
        .selectFrom('mesh_nodes')
        .select(['id', 'revoked_at', 'connected_at'])
        .where('id', 'in', ids)
        .execute();
      for (const row of rows) {
        if (row.revoked_at) this.nodeRevoked(row.id);
        else {
          // The device connected again through another control plane: this connection is the old one.
          const channel = this.channels.get(row.id);
          if (channel && row.connected_at !== null && row.connected_at > channel.connectedAt)
            this.drop(channel, meshCloseCodes.replaced, 'replaced by a newer connection of this node');
        }
      }
      const orgs = [...new Set([...this.channels.values()].map((channel) => channel.orgId))];
      const revisions = await this.db
        .selectFrom('mesh_orgs')
        .select(['org_id', 'revision'])
        .where('org_id', 'in', orgs)
        .execute();
      for (const { org_id, revision } of revisions) {
        const behind = [...this.channels.values()].some(
          (channel) => channel.orgId === org_id && channel.pushedRevision < revision,
        );
        if (behind) this.push(org_id, await this.nodes.configs(org_id));
      }
    } catch (error) {
      if (!this.closed) this.logger.warn({ err: error }, 'mesh sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Cuts channels heard from (a message or a pong) within no three heartbeats: a device whose network went
   * away without a close would otherwise look connected here, and get calls that wait out their timeouts.
   * One silent for a heartbeat is pinged (every device's WebSocket answers pings by itself).
   */
  private checkLiveness(): void {
    const heartbeatMs = this.options.heartbeatSeconds * 1000;
    const now = Date.now();
    for (const channel of [...this.channels.values()]) {
      const silentMs = now - channel.lastHeard;
      if (silentMs > 3 * heartbeatMs) {
        // Closed as a disconnection (recorded, its calls failed with node_offline) once the socket is gone.
        channel.closing = new DomainError('node_offline', 'nothing was heard from the device for three heartbeats');
        channel.socket.terminate();
      } else if (silentMs > heartbeatMs && channel.socket.readyState === 1) channel.socket.ping();
    }
  }

  /** Closes every channel (devices reconnect to whichever server answers next). */
  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    clearInterval(this.relayPoll);
    for (const channel of [...this.channels.values()]) this.drop(channel, 1001, 'the server is stopping');
    this.server.close();
  }
}

function parse(text: string): DeviceMessage | undefined {
  try {
    const result = MeshDeviceMessage.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
