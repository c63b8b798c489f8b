import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, testDatabaseKind } from '../support/database.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';

/**
 * Loaded into the server process before it starts (`node --import`): on SIGUSR2 it throws where nothing can
 * catch it and rejects a promise nobody awaits, as a missed error path would, then says so on stderr.
 */
const planted = `
process.on('SIGUSR2', () => {
  setImmediate(() => {
    process.stderr.write('planted: throwing\\n');
    throw new Error('planted uncaught exception');
  });
  setImmediate(() => {
    Promise.reject(new Error('planted unhandled rejection'));
    setImmediate(() => process.stderr.write('planted: rejected\\n'));
  });
});
`;

/** Writes a request and waits for the server to close the connection; answers what came back. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => socket.write(request));
  });
}

describe('the server process (runtools server)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-last-resort-'));
  let server: ServerProcess;
  let url: string;
  let adminKey: string;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const postgres = testDatabaseKind() === 'postgres' ? await createPostgresDatabase() : undefined;
    drop = postgres?.drop;
    const module = join(dataDir, 'planted.mjs');
    writeFileSync(module, planted);
    server = startServerProcess(dataDir, postgres ? ['--database-url', postgres.url] : [], {
      NODE_OPTIONS: `--import=${module}`,
    });
    url = await server.listening;
    adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function answers(): Promise<void> {
    expect(server.child.exitCode).toBe(null);
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
  }

  it('logs an exception and a rejection nothing handled, and keeps serving', async () => {
    server.child.kill('SIGUSR2');
    // Both planted failures have happened, or the process is gone.
    await Promise.race([
      server.exited,
      new Promise<void>((resolve) => {
        const seen = () =>
          server.stderr().includes('planted: throwing') && server.stderr().includes('planted: rejected');
        if (seen()) return resolve();
        server.child.stderr.on('data', () => seen() && resolve());
      }),
    ]);
    await answers();
  });

  it('survives a multipart upload cut off mid-file, and an upgrade to a path no URL parser takes', async () => {
    const created = await fetch(`${url}/v1/workspaces`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cut' }),
    });
    const { id } = (await created.json()) as { id: string };
    const truncated = await fetch(`${url}/v1/workspaces/${id}/files/upload`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey, 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\n\r\nH',
    });
    expect(truncated.status).toBe(400);
    await answers();
    const port = new URL(url).port;
    const refused = await exchange(
      Number(port),
      `GET // HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    expect(refused).toMatch(/^HTTP\/1\.1 4\d\d /);
    await answers();
  });
});
