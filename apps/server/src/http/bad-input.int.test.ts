import type { Sandbox } from '@runtools/sdk';
import { type RouteContract, routes } from '@runtools/spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { concretePath, existingParams } from '../../../../test/support/route-params.js';
import { type TestServer, useSandboxServer } from '../../../../test/support/server.js';

const bodyRoutes = (Object.entries(routes) as [string, RouteContract][]).filter(([, contract]) => contract.body);

const badBodies: [string, string][] = [
  ['not JSON', '{"name": '],
  ['an empty body', ''],
  ['JSON null', 'null'],
  ['a JSON array', '[]'],
  ['a JSON string', '"text"'],
  ['a JSON number', '42'],
  ['wrong field types', '{"name": 5, "value": true, "scopes": "x", "email": [], "role": 1, "publicKey": {}}'],
  ['an unknown field', '{"unexpected": 1}'],
  ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
  ['a prototype-pollution attempt', '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}'],
];

async function errorOf(
  response: Response,
): Promise<{ code: string; message: string; details?: { issues?: unknown[] } }> {
  const body = (await response.json()) as {
    error: { code: string; message: string; details?: { issues?: unknown[] } };
  };
  return body.error;
}

describe('bad input', () => {
  const fixture = useSandboxServer({ RUNTOOLS_MAX_BODY_BYTES: '200000' });
  let server: TestServer;
  let box: Sandbox;
  /** Ids that exist, for every path parameter: the body is what is refused, never the path. */
  let params: Record<string, string>;
  beforeAll(async () => {
    server = fixture.server;
    box = fixture.track(await fixture.rt.sandboxes.create({ runtime: 'container' }));
    params = await existingParams(server, box);
  }, 15 * 60_000);

  it.each(bodyRoutes)(
    '%s answers every malformed body with 400 and a body code, never a 500',
    async (_id, contract) => {
      for (const [label, body] of badBodies) {
        const response = await server.request(contract.method, concretePath(contract.path, params), { body });
        const error = await errorOf(response);
        expect([label, response.status, error.code]).toEqual([
          label,
          400,
          expect.stringMatching(/^(invalid_json|validation_failed)$/),
        ]);
        if (error.code === 'validation_failed') expect(error.details).toMatchObject({ location: 'body' });
      }
    },
  );

  it('names the field and the problem in a validation error', async () => {
    const response = await server.request('POST', '/v1/secrets', { body: { name: '1BAD', value: 7 } });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('validation_failed');
    expect(error.message).toMatch(/body\.name/);
    expect(error.details?.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'name' }), expect.objectContaining({ path: 'value' })]),
    );
  });

  it('rejects a body over the size limit with 413 payload_too_large', async () => {
    const response = await server.request('POST', '/v1/secrets', { body: { name: 'BIG', value: 'x'.repeat(250_000) } });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe('payload_too_large');
    const list = await server.request('GET', '/v1/secrets');
    expect(((await list.json()) as { data: { name: string }[] }).data.map((secret) => secret.name)).not.toContain(
      'BIG',
    );
  });

  it('rejects a body that is not JSON by content type with 415', async () => {
    const response = await server.request('POST', '/v1/secrets', {
      body: 'name=A&value=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).code).toBe('unsupported_media_type');
  });

  it('rejects malformed path parameters with 400 before touching data', async () => {
    for (const path of [
      '/v1/projects/not-an-id',
      '/v1/auth/keys/key_short',
      '/v1/secrets/has-dash',
      '/v1/ssh-keys/%00',
    ]) {
      const method = path.startsWith('/v1/secrets') || path.startsWith('/v1/ssh-keys') ? 'DELETE' : 'GET';
      const response = await server.request(method, path);
      expect([path, response.status, (await errorOf(response)).code]).toEqual([path, 400, 'validation_failed']);
    }
  });

  it('answers unknown routes with 404 and known paths with a wrong method with 405 and Allow', async () => {
    const missing = await server.request('GET', '/v1/nothing-here');
    expect([missing.status, (await errorOf(missing)).code]).toEqual([404, 'route_not_found']);
    const wrongMethod = await server.request('PUT', '/v1/secrets');
    expect([wrongMethod.status, (await errorOf(wrongMethod)).code]).toEqual([405, 'method_not_allowed']);
    expect(wrongMethod.headers.get('allow')).toContain('POST');
  });

  it('gives every response a request id, echoing a valid incoming one', async () => {
    const echoed = await server.request('GET', '/v1/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const generated = await server.request('GET', '/v1/health', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^req_[a-z2-7]{20}$/);
    const failed = await server.request('GET', '/v1/secrets/NOPE');
    const error = (await failed.json()) as { error: { requestId: string } };
    expect(error.error.requestId).toBe(failed.headers.get('x-request-id'));
  });

  it('rejects a secret value over 64 KiB even under a larger body limit', async () => {
    const response = await server.request('POST', '/v1/secrets', {
      body: { name: 'LARGE', value: 'é'.repeat(32_769) },
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('validation_failed');
  });
});
