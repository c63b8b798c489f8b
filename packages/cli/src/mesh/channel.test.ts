import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  MeshDeviceMessage,
  type MeshNodeConfig,
  type MeshOperation,
  meshChallengePrefix,
  meshCloseCodes,
} from '@runtools/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ChannelEnd, MeshChannel } from './channel.js';
import { identityPublicKey } from './keys.js';
import { OperationError } from './root-paths.js';

// The control plane's side of the channel, as the spec has it, driven by each test: a real WebSocket server on
// loopback, so that what is tested is what the helper sends and how it takes what it is sent.

const { privateKey: identityKey } = generateKeyPairSync('ed25519');
const identity = createPublicKey({
  key: { kty: 'OKP', crv: 'Ed25519', x: identityPublicKey(identityKey) },
  format: 'jwk',
});

function config(revision: number, peerNames: string[] = []): MeshNodeConfig {
  return {
    node: { id: 'mnd_aaaaaaaaaaaaaaaaaaaa', name: 'laptop', address: '100.64.0.9' },
    interface: { address: '100.64.0.9/10', publicKey: `${'A'.repeat(43)}=`, listenPort: null },
    peers: peerNames.map((name, index) => ({
      nodeId: `mnd_${String.fromCharCode(98 + index).repeat(20)}`,
      name,
      publicKey: `${'B'.repeat(43)}=`,
      address: `100.64.0.${index + 1}`,
      allowedIps: [`100.64.0.${index + 1}/32`],
      endpoint: null,
    })),
    revision,
  };
}

/** One device connection as the server sees it: what it sent, and a way to send to it. */
interface Peer {
  socket: WebSocket;
  authorization: string | undefined;
  received: MeshDeviceMessage[];
  next(type: MeshDeviceMessage['type']): Promise<MeshDeviceMessage>;
  send(message: unknown): void;
}

const servers: Server[] = [];
const channels: MeshChannel[] = [];
afterEach(async () => {
  for (const channel of channels.splice(0)) channel.stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server whose every connection gets a challenge, then goes to `onPeer` once the hello verified. */
async function controlPlane(
  onPeer: (peer: Peer, index: number) => void | Promise<void>,
  options: { refuseUpgrade?: { status: number; code: string } } = {},
): Promise<{ url: string; connections: () => number }> {
  const server = createServer();
  servers.push(server);
  const sockets = new WebSocketServer({ noServer: true });
  let connections = 0;
  server.on('upgrade', (request, socket, head) => {
    if (options.refuseUpgrade) {
      const body = JSON.stringify({ error: { code: options.refuseUpgrade.code, message: 'refused at the door' } });
      socket.end(
        `HTTP/1.1 ${options.refuseUpgrade.status} X\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const index = connections++;
      const received: MeshDeviceMessage[] = [];
      const waiting: { type: string; resolve: (message: MeshDeviceMessage) => void }[] = [];
      const nonce = `nonce-${index}-${Math.random()}`;
      const peer: Peer = {
        socket: ws,
        authorization: request.headers.authorization,
        received,
        next: (type) =>
          new Promise((resolve) => {
            const seen = received.find((message) => message.type === type && !consumed.has(message));
            if (seen) {
              consumed.add(seen);
              resolve(seen);
            } else waiting.push({ type, resolve });
          }),
        send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
      };
      const consumed = new Set<MeshDeviceMessage>();
      ws.on('message', (data) => {
        const message = MeshDeviceMessage.parse(JSON.parse(data.toString()));
        received.push(message);
        if (message.type === 'hello') {
          const signed = verify(
            null,
            Buffer.from(`${meshChallengePrefix}${nonce}`),
            identity,
            Buffer.from(message.signature, 'base64url'),
          );
          if (!signed) ws.close(meshCloseCodes.refused, 'bad signature');
          else void onPeer(peer, index);
        }
        const at = waiting.findIndex((entry) => entry.type === message.type);
        if (at >= 0) {
          consumed.add(message);
          waiting.splice(at, 1)[0]?.resolve(message);
        }
      });
      ws.send(JSON.stringify({ type: 'challenge', nonce }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

interface Recorded {
  logs: string[];
  configs: number[];
  operations: MeshOperation[];
  aborted: MeshOperation[];
}

function device(
  url: string,
  onOperation?: (operation: MeshOperation, signal: AbortSignal) => Promise<unknown>,
): { channel: MeshChannel; recorded: Recorded; ended: Promise<ChannelEnd> } {
  const recorded: Recorded = { logs: [], configs: [], operations: [], aborted: [] };
  const channel = new MeshChannel({
    server: url,
    nodeToken: 'rtn_test',
    identityKey,
    hello: { version: '0.1.0', listenPort: 41641, root: '/home/me/project', confined: true },
    onConfig: async (next) => {
      recorded.configs.push(next.revision);
    },
    onOperation: async (operation, signal) => {
      recorded.operations.push(operation);
      signal.addEventListener('abort', () => recorded.aborted.push(operation));
      if (onOperation) return onOperation(operation, signal);
      return { echoed: operation.op };
    },
    onConnected: () => {},
    onHeartbeat: () => {},
    log: (line) => recorded.logs.push(line),
    backoff: { initialMs: 20, maxMs: 100 },
  });
  channels.push(channel);
  return { channel, recorded, ended: channel.run() };
}

const welcome = (revision: number, heartbeatSeconds = 60) => ({
  type: 'welcome',
  node: config(revision).node,
  config: config(revision),
  heartbeatSeconds,
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the node channel', () => {
  it('answers the challenge with a hello signed by the identity key, then heartbeats once welcomed', async () => {
    let hello: MeshDeviceMessage | undefined;
    const server = await controlPlane(async (peer) => {
      hello = peer.received.find((message) => message.type === 'hello');
      expect(peer.authorization).toBe('Bearer rtn_test');
      peer.send(welcome(1));
    });
    const { recorded } = device(server.url);
    await until(() => recorded.configs.length === 1);
    expect(hello).toMatchObject({
      type: 'hello',
      version: '0.1.0',
      listenPort: 41641,
      root: '/home/me/project',
      confined: true,
    });
    expect(recorded.logs).toEqual(['connected']);
  });

  it('applies a pushed config only when it is newer than the last', async () => {
    const server = await controlPlane(async (peer) => {
      peer.send(welcome(5));
      peer.send({ type: 'config', config: config(3, ['older']) });
      peer.send({ type: 'config', config: config(6, ['newer']) });
      peer.send({ type: 'config', config: config(6, ['same']) });
    });
    const { recorded } = device(server.url);
    await until(() => recorded.configs.includes(6));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(recorded.configs).toEqual([5, 6]);
  });

  it('ignores messages that are not the channel’s and goes on answering calls', async () => {
    let result: MeshDeviceMessage | undefined;
    const server = await controlPlane(async (peer) => {
      peer.send(welcome(1));
      peer.send('not json');
      peer.send({ type: 'call', id: 'no-operation' });
      peer.send({ type: 'config', config: { revision: 'nine' } });
      peer.send({ type: 'surprise' });
      peer.send({ type: 'call', id: 'c1', operation: { op: 'list_files', path: '/home/me/project' } });
      result = await peer.next('result');
    });
    const { recorded } = device(server.url);
    await until(() => result !== undefined);
    expect(result).toEqual({ type: 'result', id: 'c1', ok: true, value: { echoed: 'list_files' } });
    expect(recorded.operations).toHaveLength(1);
    expect(recorded.logs.filter((line) => line.startsWith('ignored'))).toHaveLength(1);
  });

  it('answers a refused operation with its code and message', async () => {
    let result: MeshDeviceMessage | undefined;
    const server = await controlPlane(async (peer) => {
      peer.send(welcome(1));
      peer.send({ type: 'call', id: 'c2', operation: { op: 'read_file', path: '/etc/passwd' } });
      result = await peer.next('result');
    });
    device(server.url, async () => {
      throw new OperationError('outside_root', '/etc/passwd is outside /home/me/project');
    });
    await until(() => result !== undefined);
    expect(result).toEqual({
      type: 'result',
      id: 'c2',
      ok: false,
      error: { code: 'outside_root', message: '/etc/passwd is outside /home/me/project' },
    });
  });

  it('aborts a cancelled call and sends no result for it', async () => {
    let peerOf: Peer | undefined;
    const server = await controlPlane(async (peer) => {
      peerOf = peer;
      peer.send(welcome(1));
      peer.send({ type: 'call', id: 'slow', operation: { op: 'exec', command: 'sleep 30', timeoutMs: 60_000 } });
    });
    const { recorded } = device(
      server.url,
      (_operation, signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve({ exitCode: 137 }))),
    );
    await until(() => recorded.operations.length === 1);
    peerOf?.send({ type: 'cancel', id: 'slow' });
    await until(() => recorded.aborted.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(peerOf?.received.filter((message) => message.type === 'result')).toEqual([]);
  });

  it('ends as revoked on a revoked message, and on the close code 4403', async () => {
    const byMessage = await controlPlane((peer) => {
      peer.send(welcome(1));
      peer.send({ type: 'revoked', reason: 'this node was revoked' });
    });
    expect(await device(byMessage.url).ended).toEqual({ kind: 'revoked', reason: 'this node was revoked' });
    const byClose = await controlPlane((peer) => {
      peer.send(welcome(1));
      peer.socket.close(meshCloseCodes.revoked, 'revoked');
    });
    expect(await device(byClose.url).ended).toEqual({ kind: 'revoked', reason: 'revoked' });
  });

  it('ends as refused on the close code 4401 and on a 401 at the upgrade, without retrying', async () => {
    const byClose = await controlPlane((peer) => peer.socket.close(meshCloseCodes.refused, 'no'));
    expect(await device(byClose.url).ended).toEqual({ kind: 'refused', reason: 'no' });
    expect(byClose.connections()).toBe(1);
    const atUpgrade = await controlPlane(() => {}, { refuseUpgrade: { status: 401, code: 'invalid_node_token' } });
    expect(await device(atUpgrade.url).ended).toEqual({ kind: 'refused', reason: 'refused at the door' });
    const revokedAtUpgrade = await controlPlane(() => {}, { refuseUpgrade: { status: 409, code: 'node_revoked' } });
    expect((await device(revokedAtUpgrade.url).ended).kind).toBe('revoked');
  });

  it('reconnects after any other close, saying reconnecting once an outage', async () => {
    const server = await controlPlane((peer, index) => {
      if (index === 0) {
        peer.send(welcome(1));
        setTimeout(() => peer.socket.close(1001, 'the server is stopping'), 50);
      } else if (index < 3) {
        peer.socket.close(1011, 'not yet'); // still out: no welcome
      } else peer.send(welcome(2));
    });
    const { recorded, channel, ended } = device(server.url);
    await until(() => recorded.configs.includes(2));
    expect(server.connections()).toBe(4);
    expect(recorded.logs).toEqual(['connected', 'reconnecting', 'connected']);
    channel.stop();
    expect(await ended).toEqual({ kind: 'stopped' });
  });

  it('keeps retrying a server that is not there, and stops when told', async () => {
    const { recorded, channel, ended } = device('http://127.0.0.1:9');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recorded.logs).toEqual(['reconnecting']);
    channel.stop();
    expect(await ended).toEqual({ kind: 'stopped' });
  });
});
