import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ChannelError, DaemonChannel } from './channel.js';

/**
 * The host side of the daemon channel against peers that are not an honest daemon: the daemon runs inside the
 * sandbox, so whatever answers on its socket is the sandbox's, and may lie, send garbage or be another's.
 */
const dir = mkdtempSync(join(tmpdir(), 'runtools-channel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

let serial = 0;
/** A Unix socket peer that does `onConnection`, and the bytes each connection sent it. */
async function peer(onConnection: (socket: Socket) => void): Promise<{ path: string; received: Buffer[] }> {
  const path = join(dir, `peer-${++serial}.sock`);
  const received: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on('data', (data) => received.push(data));
    socket.on('error', () => {});
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, received };
}

function frame(id: number, kind: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(9);
  header.writeUInt32BE(5 + body.length, 0);
  header.writeUInt32BE(id, 4);
  header[8] = kind;
  return Buffer.concat([header, body]);
}

const hello = (token: string) => frame(0, 20, JSON.stringify({ token }));

async function failure(promise: Promise<unknown>): Promise<ChannelError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChannelError);
  return error as ChannelError;
}

describe('DaemonChannel against a peer that is not its daemon', () => {
  it('talks to a daemon that proves itself with the token', async () => {
    const { path } = await peer((socket) => {
      socket.write(hello('right'));
      // Answers the first request (stream 1) with a result.
      socket.once('data', () => socket.write(frame(1, 19, JSON.stringify({ version: '1', pid: 1 }))));
    });
    const channel = new DaemonChannel(path, 'right');
    expect(await channel.call({ op: 'ping' })).toEqual({ version: '1', pid: 1 });
    channel.close();
  });

  it("refuses another sandbox's daemon (a wrong token) and sends it nothing", async () => {
    const other = await peer((socket) => socket.write(hello('another sandbox')));
    const channel = new DaemonChannel(other.path, 'mine');
    expect((await failure(channel.call({ op: 'exec', argv: ['secret'] }))).code).toBe('channel_unauthenticated');
    expect((await failure(channel.tunnel(8080))).code).toBe('channel_unauthenticated');
    expect(Buffer.concat(other.received).length).toBe(0);
  });

  it('refuses a peer that begins with anything but its hello, and sends it nothing', async () => {
    const { path, received } = await peer((socket) => socket.write(frame(1, 19, JSON.stringify({ version: '1' }))));
    const error = await failure(new DaemonChannel(path, 'mine').call({ op: 'ping' }));
    expect(error.code).toBe('channel_protocol');
    expect(Buffer.concat(received).length).toBe(0);
  });

  it('sends nothing to a peer that has not said hello yet', async () => {
    const { path, received } = await peer(() => {});
    const channel = new DaemonChannel(path, 'mine');
    const pending = channel.call({ op: 'exec', argv: ['secret'] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    channel.close();
    expect((await failure(pending)).code).toBe('channel_lost');
    expect(Buffer.concat(received).length).toBe(0);
  });

  it('does not follow a symlink in place of the socket (to another sandbox, or a host service)', async () => {
    const target = await peer((socket) => socket.write(hello('mine')));
    const link = join(dir, 'planted.sock');
    symlinkSync(target.path, link);
    const error = await failure(new DaemonChannel(link, 'mine').call({ op: 'ping' }));
    expect([error.code, error.message]).toEqual(['channel_unavailable', expect.stringMatching(/not a socket/)]);
    expect(Buffer.concat(target.received).length).toBe(0);
  });

  it.each([
    ['a frame longer than the protocol allows', Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 19])],
    ['a frame shorter than its header', Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 19])],
    ['a result that is not JSON', frame(1, 19, '{not json')],
    ['a result that is JSON but no object', frame(1, 19, '[1,2]')],
    ['an event that is not JSON', frame(1, 18, '\u0000garbage')],
  ])('drops the connection on %s, failing its streams, and the process lives on', async (_what, garbage) => {
    const { path } = await peer((socket) => {
      socket.write(hello('mine'));
      socket.once('data', () => socket.write(garbage));
    });
    const channel = new DaemonChannel(path, 'mine');
    const error = await failure(channel.call({ op: 'ping' }));
    expect(error.code).toBe('channel_protocol');
    channel.close();
  });

  it('refuses a tunnel whose daemon answers garbage', async () => {
    const { path } = await peer((socket) => {
      socket.write(hello('mine'));
      socket.once('data', () => socket.write(frame(1, 18, 'nope')));
    });
    expect((await failure(new DaemonChannel(path, 'mine').tunnel(80))).code).toBe('channel_protocol');
  });

  it('refuses to connect for a sandbox without a token (one that is gone)', async () => {
    const target = await peer((socket) => socket.write(hello('')));
    const error = await failure(new DaemonChannel(target.path, '').call({ op: 'ping' }));
    expect(error.code).toBe('channel_unavailable');
    expect(Buffer.concat(target.received).length).toBe(0);
  });
});
