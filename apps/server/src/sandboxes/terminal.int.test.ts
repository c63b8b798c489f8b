import { spawn } from 'node:child_process';
import { RunTools, type Sandbox } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

const bin = new URL('../../../../packages/cli/bin/runtools.js', import.meta.url).pathname;

/** A terminal session: what it printed, how it ended, and a way to type. */
function open(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers });
  let screen = '';
  let exitCode: number | undefined;
  const refused = new Promise<number>((resolve) =>
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)),
  );
  const opened = new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', reject);
  });
  socket.on('message', (data: Buffer, isBinary) => {
    if (isBinary) screen += data.toString('utf8');
    else {
      const message = JSON.parse(data.toString('utf8')) as { type: string; exitCode?: number };
      if (message.type === 'exit') exitCode = message.exitCode;
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return {
    socket,
    opened,
    refused,
    closed,
    screen: () => screen,
    exitCode: () => exitCode,
    type: (text: string) => socket.send(Buffer.from(text), { binary: true }),
  };
}

describe('web terminal', () => {
  let server: TestServer;
  let rt: RunTools;
  let box: Sandbox;
  let terminalUrl: string;

  beforeAll(async () => {
    await testBaseRootfs();
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    box = await rt.sandboxes.create({ runtime: 'container' });
    terminalUrl = `${server.url.replace(/^http/, 'ws')}/v1/sandboxes/${box.id}/terminal`;
  }, 15 * 60_000);
  afterAll(async () => {
    await box?.destroy().catch(() => {});
    await server.close();
  }, 120_000);

  it('gives a login shell on a terminal: typed input, resize, exit code', async () => {
    const session = open(`${terminalUrl}?cols=90&rows=20`, { 'x-api-key': server.adminKey });
    await session.opened;
    session.type('stty size; tty\r');
    await expect.poll(session.screen).toMatch(/20 90\r\n\/dev\/pts\/\d+\r\n/);
    session.socket.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    session.type('stty size\r');
    await expect.poll(session.screen).toMatch(/40 120\r\n/);
    session.type('exit 3\r');
    await session.closed;
    expect(session.exitCode()).toBe(3);
  });

  it('opens with a one-minute token (for browsers), and refuses missing, bad and foreign credentials', async () => {
    const issued = (await (await server.request('POST', `/v1/sandboxes/${box.id}/terminal/token`)).json()) as {
      token: string;
      url: string;
    };
    expect(issued.url).toBe(`${terminalUrl}?token=${issued.token}`);
    const session = open(issued.url);
    await session.opened;
    session.type('echo via-token\r');
    await expect.poll(session.screen).toMatch(/via-token\r\n/);
    session.socket.close();

    expect(await open(terminalUrl).refused).toBe(401);
    expect(await open(`${terminalUrl}?token=${issued.token.slice(0, -2)}xx`).refused).toBe(401);
    const other = (await (await server.request('POST', '/v1/orgs', { body: { name: 'Elsewhere' } })).json()) as {
      apiKey: { key: string };
    };
    expect(await open(terminalUrl, { 'x-api-key': other.apiKey.key }).refused).toBe(404);
    const reader = await rt.auth.keys.create({ name: 'reader', scopes: ['sandboxes:read'] });
    expect(await open(terminalUrl, { 'x-api-key': reader.key }).refused).toBe(403);
  });

  it('runs `runtools sandbox shell` with piped input and its exit code', async () => {
    const child = spawn(process.execPath, [bin, 'sandbox', 'shell', box.id], {
      env: { PATH: process.env.PATH ?? '', RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stdin.end('echo from-cli\nexit 5\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, stdout]).toEqual([5, expect.stringContaining('from-cli')]);
  });

  it('does not keep the server from stopping: open sessions are ended', async () => {
    const other = await startTestServer();
    try {
      const otherRt = new RunTools({ apiKey: other.adminKey, baseUrl: other.url });
      const sandbox = await otherRt.sandboxes.create({ runtime: 'container' });
      const session = open(`${other.url.replace(/^http/, 'ws')}/v1/sandboxes/${sandbox.id}/terminal`, {
        'x-api-key': other.adminKey,
      });
      await session.opened;
      await other.running.close(60_000);
      await session.closed;
    } finally {
      await other.close();
    }
  });

  it('ends the session when the sandbox is destroyed under it', async () => {
    const doomed = await rt.sandboxes.create({ runtime: 'container' });
    const session = open(`${server.url.replace(/^http/, 'ws')}/v1/sandboxes/${doomed.id}/terminal`, {
      'x-api-key': server.adminKey,
    });
    await session.opened;
    session.type('echo alive\r');
    await expect.poll(session.screen).toMatch(/alive\r\n/);
    await doomed.destroy();
    await session.closed;
  });
});
