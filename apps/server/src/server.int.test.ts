import { request } from 'node:http';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/support/server.js';

/**
 * Takes the server's database away under it, and returns how to give it back. PostgreSQL stops accepting
 * connections and drops the server's; the embedded SQLite database is in the process, and stops answering only
 * when its connection is closed (giving it back is a restart on the same file).
 */
async function takeDatabaseAway(server: TestServer): Promise<() => Promise<void>> {
  if (!server.databaseUrl) {
    await server.running.db.kysely.destroy();
    return () => server.restart();
  }
  const name = new URL(server.databaseUrl).pathname.slice(1);
  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: process.env.RUNTOOLS_TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(query);
    } finally {
      await client.end();
    }
  };
  await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
  return () => admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
}

describe('server lifecycle', () => {
  it('finishes a request in flight when asked to stop, then refuses new connections', async () => {
    const server = await startTestServer();
    const url = new URL('/v1/secrets', server.url);
    const body = JSON.stringify({ name: 'IN_FLIGHT', value: 'kept' });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: 'POST',
          headers: { 'x-api-key': server.adminKey, 'content-type': 'application/json', 'content-length': body.length },
        },
        (incoming) => {
          let text = '';
          incoming.on('data', (chunk) => {
            text += chunk;
          });
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, text }));
        },
      );
      outgoing.on('error', reject);
      // Half the body now, the rest after shutdown has begun.
      outgoing.write(body.slice(0, 10));
      setTimeout(() => {
        closing = server.running.close();
        setTimeout(() => outgoing.end(body.slice(10)), 100);
      }, 100);
    });
    let closing: Promise<void> | undefined;
    const answer = await response;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.text)).toMatchObject({ name: 'IN_FLIGHT' });
    await closing;
    await expect(fetch(`${server.url}/v1/health`)).rejects.toThrow();
    await server.restart();
    const stored = await server.request('GET', '/v1/secrets/IN_FLIGHT');
    expect(((await stored.json()) as { value: string }).value).toBe('kept');
    await server.close();
  });

  it('reports ready only while the database answers', async () => {
    const server = await startTestServer();
    try {
      const ready = async () => {
        const response = await server.request('GET', '/v1/ready', { key: null });
        return { status: response.status, body: await response.json() };
      };
      const answering = {
        status: 200,
        body: { status: 'ready', checks: { database: { ok: true }, rootKey: { ok: true } } },
      };
      expect(await ready()).toMatchObject(answering);

      const giveBack = await takeDatabaseAway(server);
      expect(await ready()).toMatchObject({
        status: 503,
        body: {
          error: {
            code: 'service_unavailable',
            details: { checks: { database: { ok: false, message: expect.any(String) }, rootKey: { ok: true } } },
          },
        },
      });
      await giveBack();
      expect(await ready()).toMatchObject(answering);
    } finally {
      await server.close();
    }
  });

  it('keeps the first owner key across restarts and does not mint another', async () => {
    const server = await startTestServer();
    await server.restart();
    expect(server.running.adminKey).toBeUndefined();
    expect((await server.request('GET', '/v1/me')).status).toBe(200);
    const keys = (await (await server.request('GET', '/v1/auth/keys')).json()) as { data: unknown[] };
    expect(keys.data).toHaveLength(1);
    await server.close();
  });

  it('takes a preset RUNTOOLS_ADMIN_KEY on first start and rejects a malformed one', async () => {
    const preset = 'rt_abcdefgh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const server = await startTestServer({ RUNTOOLS_ADMIN_KEY: preset });
    expect(server.adminKey).toBe(preset);
    expect((await server.request('GET', '/v1/me', { key: preset })).status).toBe(200);
    await server.close();
    await expect(startTestServer({ RUNTOOLS_ADMIN_KEY: 'not-a-key' })).rejects.toThrow(
      /RUNTOOLS_ADMIN_KEY must look like/,
    );
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a key spends its budget, and other keys are unaffected', async () => {
    const server = await startTestServer({ RUNTOOLS_RATE_LIMIT_PER_MINUTE: '5' });
    try {
      const other = (await (
        await server.request('POST', '/v1/auth/keys', { body: { name: 'other', scopes: ['secrets:read'] } })
      ).json()) as {
        key: string;
      };
      const statuses: number[] = [];
      for (let index = 0; index < 6; index++) statuses.push((await server.request('GET', '/v1/secrets')).status);
      // The key-creation call above spent one of the admin key's five.
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
      const limited = await server.request('GET', '/v1/secrets');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      expect((await server.request('GET', '/v1/secrets', { key: other.key })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
