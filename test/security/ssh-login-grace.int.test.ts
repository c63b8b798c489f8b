import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/** Opens a TCP connection, writes `bytes` (never ending its side), and resolves once the server has closed it. */
function heldOpen(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => socket.write(bytes));
  });
}

describe('the SSH gateway against connections that never log in', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RUNTOOLS_SSH_LOGIN_GRACE_SECONDS: '1' });
  });
  afterAll(() => server?.close());

  it('closes a connection that stays silent, stops after its version line, or stalls in key exchange', async () => {
    const port = server.running.sshPort;
    const closed = await Promise.all([
      heldOpen(port, ''),
      heldOpen(port, 'SSH-2.0-slow\r\n'),
      // A key exchange packet announced at 1000 bytes, of which 6 arrive.
      heldOpen(port, 'SSH-2.0-slow\r\n\u0000\u0000\u0003\u00e8\u0004\u0014'),
    ]);
    // Each heard the gateway's version line before it was closed.
    for (const answer of closed) expect(answer).toMatch(/^SSH-2\.0-/);
    expect((await server.request('GET', '/v1/health')).status).toBe(200);
  });
});
