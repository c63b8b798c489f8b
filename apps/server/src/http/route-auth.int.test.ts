import { type ConcreteScope, concreteScopes, type RouteContract, routes } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

/** Well-formed values for every path parameter name the spec uses; they name nothing that exists. */
const sampleParams: Record<string, string> = {
  orgId: 'org_aaaaaaaaaaaaaaaaaaaa',
  projectId: 'prj_aaaaaaaaaaaaaaaaaaaa',
  memberId: 'mem_aaaaaaaaaaaaaaaaaaaa',
  keyId: 'key_aaaaaaaaaaaaaaaaaaaa',
  sshKeyId: 'ssh_aaaaaaaaaaaaaaaaaaaa',
  name: 'NO_SUCH_SECRET',
  sandboxId: 'sbx_aaaaaaaaaaaaaaaaaaaa',
  pid: '42',
  templateName: 'no-such-template',
  workspaceId: 'wsp_aaaaaaaaaaaaaaaaaaaa',
  snapshotId: 'snp_aaaaaaaaaaaaaaaaaaaa',
  port: '8080',
  slug: 'no-such-agent',
  runId: 'run_aaaaaaaaaaaaaaaaaaaa',
  threadId: 'thr_aaaaaaaaaaaaaaaaaaaa',
};

function concretePath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = sampleParams[name];
    if (!value) throw new Error(`add a sample value for path parameter ${name}`);
    return value;
  });
}

const keyRoutes = (Object.entries(routes) as [string, RouteContract][]).filter(
  ([, contract]) => contract.auth === 'key',
);
const scopedRoutes = keyRoutes.filter(([, contract]) => contract.scopes.length > 0);

describe('route auth', () => {
  let server: TestServer;
  const keysByScope = new Map<ConcreteScope, string>();

  beforeAll(async () => {
    server = await startTestServer();
    for (const scope of concreteScopes) {
      const response = await server.request('POST', '/v1/auth/keys', { body: { name: scope, scopes: [scope] } });
      expect(response.status).toBe(201);
      keysByScope.set(scope, ((await response.json()) as { key: string }).key);
    }
  });
  afterAll(() => server.close());

  it('serves only routes that are in the spec contract table', () => {
    const contracts = new Set(Object.values(routes).map((contract) => `${contract.method} ${contract.path}`));
    const undocumented = server.running.routes
      .filter((route) => route.method !== 'ALL' && route.path.startsWith('/v1/'))
      .map((route) => `${route.method} ${route.path}`)
      .filter((route) => !contracts.has(route) && route !== 'GET /v1/openapi.json');
    expect(undocumented).toEqual([]);
    for (const contract of contracts) {
      expect(server.running.routes.map((route) => `${route.method} ${route.path}`)).toContain(contract);
    }
  });

  it('declares at least one scope on every key route except whoami', () => {
    expect(keyRoutes.filter(([, contract]) => contract.scopes.length === 0).map(([id]) => id)).toEqual(['whoAmI']);
  });

  it.each(keyRoutes)('%s rejects a request without a key with 401 unauthenticated', async (_id, contract) => {
    const response = await server.request(contract.method, concretePath(contract.path), {
      key: null,
      body: contract.body ? {} : undefined,
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
  });

  it.each(keyRoutes)('%s rejects a well-formed but unknown key with 401 invalid_api_key', async (_id, contract) => {
    const response = await server.request(contract.method, concretePath(contract.path), {
      key: 'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      body: contract.body ? {} : undefined,
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it.each(scopedRoutes)(
    '%s refuses every scope it does not list, and admits each one it does',
    async (_id, contract) => {
      for (const scope of concreteScopes) {
        const key = keysByScope.get(scope);
        // A body the schema rejects: an admitted call stops at validation and never creates anything.
        const response = await server.request(contract.method, concretePath(contract.path), {
          key: key ?? null,
          body: contract.body ? { notAField: true } : undefined,
        });
        const body = (await response.json()) as { error?: { code: string } };
        if (contract.scopes.includes(scope)) {
          expect([response.status, scope]).not.toEqual([403, scope]);
          expect(response.status).not.toBe(401);
        } else {
          expect([response.status, body.error?.code, scope]).toEqual([403, 'insufficient_scope', scope]);
        }
      }
    },
  );

  it('accepts the key as "Authorization: Bearer" as well as "X-API-Key"', async () => {
    const bearer = await server.request('GET', '/v1/me', {
      key: null,
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(bearer.status).toBe(200);
    const malformed = await server.request('GET', '/v1/me', {
      key: null,
      headers: { authorization: `Basic ${server.adminKey}` },
    });
    expect(malformed.status).toBe(401);
  });

  it('expands resource wildcards to exactly that resource', async () => {
    const created = await server.request('POST', '/v1/auth/keys', { body: { name: 'files', scopes: ['secrets:*'] } });
    const { key } = (await created.json()) as { key: string };
    expect((await server.request('GET', '/v1/secrets/NOPE', { key })).status).toBe(404);
    expect((await server.request('POST', '/v1/secrets', { key, body: { name: 'A', value: 'b' } })).status).toBe(201);
    expect((await server.request('GET', '/v1/ssh-keys', { key })).status).toBe(403);
  });

  it('lets public routes through without a key', async () => {
    expect((await server.request('GET', '/v1/health', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/v1/ready', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/v1/openapi.json', { key: null })).status).toBe(200);
    expect((await server.request('GET', '/docs', { key: null })).status).toBe(200);
  });
});
