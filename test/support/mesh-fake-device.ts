import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  type MeshLinkCreated,
  type MeshLinkPoll,
  type MeshOperation,
  type MeshServerMessage,
  meshChallengePrefix,
  meshChannelPath,
} from '@runtools/spec';
import WebSocket from 'ws';

/**
 * A device as the API sees it, for tests of the control plane alone: real keys, the link calls over HTTP and
 * the channel over a real WebSocket, without the helper process (test/mesh/*.int.test.ts runs the real one).
 */
export interface FakeDevice {
  publicKey: string;
  identityKey: string;
  identity: KeyObject;
  link(name?: string): Promise<MeshLinkCreated>;
  poll(link: MeshLinkCreated, token?: string | null): Promise<Response>;
  /** Opens the channel with this node token; signs the challenge with `identity` unless told otherwise. */
  connect(
    token: string,
    options?: {
      listenPort?: number | null;
      signWith?: KeyObject;
      /** Answers the operations dispatched to it (a value, or a thrown `{ code, message }` as the device's refusal). */
      answer?: (operation: MeshOperation) => unknown;
    },
  ): Promise<DeviceChannel>;
}

export interface DeviceChannel {
  socket: WebSocket;
  messages: MeshServerMessage[];
  /** The next message of this type (already received or coming), within `timeoutMs`. */
  next<T extends MeshServerMessage['type']>(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<MeshServerMessage, { type: T }>>;
  closed: Promise<{ code: number; reason: string }>;
}

export function fakeDevice(baseUrl: string): FakeDevice {
  const wireguard = generateKeyPairSync('x25519');
  const identity = generateKeyPairSync('ed25519');
  const publicKey = Buffer.from(wireguard.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
    'base64',
  );
  const identityKey = identity.publicKey.export({ format: 'jwk' }).x as string;
  return {
    publicKey,
    identityKey,
    identity: identity.privateKey,
    async link(name = 'test-device') {
      const response = await fetch(`${baseUrl}/v1/mesh/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, publicKey, identityKey, platform: 'linux-x64', version: '0.0.0-test' }),
      });
      if (response.status !== 201) throw new Error(`link: ${response.status} ${await response.text()}`);
      return (await response.json()) as MeshLinkCreated;
    },
    poll(link, token) {
      const pollToken = token === undefined ? link.pollToken : token;
      return fetch(`${baseUrl}/v1/mesh/links/${link.linkId}`, {
        headers: pollToken === null ? {} : { authorization: `Bearer ${pollToken}` },
      });
    },
    async connect(token, options = {}) {
      const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${meshChannelPath}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const messages: MeshServerMessage[] = [];
      const waiters: (() => void)[] = [];
      const closed = new Promise<{ code: number; reason: string }>((resolve, reject) => {
        socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        socket.on('unexpected-response', (_request, response) =>
          reject(Object.assign(new Error(`refused: ${response.statusCode}`), { status: response.statusCode })),
        );
        socket.on('error', () => {});
      });
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as MeshServerMessage;
        messages.push(message);
        if (message.type === 'challenge')
          socket.send(
            JSON.stringify({
              type: 'hello',
              signature: sign(
                null,
                Buffer.from(meshChallengePrefix + message.nonce),
                options.signWith ?? identity.privateKey,
              ).toString('base64url'),
              version: '0.0.0-test',
              listenPort: options.listenPort === undefined ? 51820 : options.listenPort,
              root: '/tmp/nowhere',
              confined: true,
            }),
          );
        if (message.type === 'call' && options.answer) {
          let reply: object;
          try {
            reply = { type: 'result', id: message.id, ok: true, value: options.answer(message.operation) };
          } catch (error) {
            reply = { type: 'result', id: message.id, ok: false, error: error as { code: string; message: string } };
          }
          socket.send(JSON.stringify(reply));
        }
        for (const wake of waiters.splice(0)) wake();
      });
      await Promise.race([
        new Promise<void>((resolve) => socket.once('open', () => resolve())),
        closed.then(() => {
          throw new Error('the channel closed before it opened');
        }),
      ]);
      let seen = 0;
      return {
        socket,
        messages,
        closed,
        async next(type, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const index = messages.findIndex((message, at) => at >= seen && message.type === type);
            if (index >= 0) {
              seen = index + 1;
              return messages[index] as never;
            }
            if (Date.now() > deadline) throw new Error(`no ${type} message within ${timeoutMs} ms`);
            await Promise.race([
              new Promise<void>((resolve) => waiters.push(resolve)),
              new Promise((resolve) => setTimeout(resolve, 100)),
            ]);
          }
        },
      };
    },
  };
}

/** Polls a link once approved: its node, token and config. */
export async function claim(device: FakeDevice, link: MeshLinkCreated): Promise<Required<MeshLinkPoll>> {
  const response = await device.poll(link);
  if (response.status !== 200) throw new Error(`poll: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as MeshLinkPoll;
  if (!body.nodeToken || !body.node || !body.config) throw new Error(`not approved: ${JSON.stringify(body)}`);
  return body as Required<MeshLinkPoll>;
}
