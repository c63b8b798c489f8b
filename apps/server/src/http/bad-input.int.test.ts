import type { Sandbox } from '@runtools/sdk';
import { type RouteContract, routes } from '@runtools/spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { concretePath, existingParams } from '../../../../test/support/route-params.js';
import { type TestServer, useSandboxServer } from '../../../../test/support/server.js';
import { signWebhook } from '../workflows/webhook-signature.js';

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
  // Refused for its depth before any schema looks at it (a route whose field takes any JSON would otherwise
  // hand it on to code that recurses).
  ['deep nesting inside an object', `{"params":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`],
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
        if (label === 'deep nesting inside an object')
          expect(error.message).toBe('the request body nests deeper than 2000 levels');
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

  it('rejects malformed workflow path parameters and queries with 400 before touching data', async () => {
    const refused: [string, string][] = [
      ['GET', '/v1/workflows/Not_A_Slug'],
      ['GET', '/v1/workflows/route-params/versions/0'],
      ['GET', '/v1/workflows/route-params/versions/-1'],
      ['GET', '/v1/workflows/route-params/versions/1.5'],
      ['GET', '/v1/workflows/route-params/versions/latest'],
      ['DELETE', '/v1/workflows/route-params/triggers/trg_short'],
      ['DELETE', `/v1/workflows/route-params/triggers/${params.workflowRunId}`],
      // An agent run's id is not a workflow run's.
      ['GET', `/v1/workflow-runs/${params.runId}`],
      ['POST', '/v1/workflow-runs/wfr_short/cancel'],
      ['GET', '/v1/workflow-approvals/apv_'],
      ['POST', `/v1/workflow-approvals/${params.triggerId}/resolve`],
      ['POST', '/v1/hooks/short'],
      ['GET', '/v1/workflow-runs?status=nope'],
      ['GET', '/v1/workflow-runs?workflow=Not_A_Slug'],
      ['GET', '/v1/workflow-runs?unknown=1'],
      ['GET', '/v1/workflow-approvals?runId=run_aaaaaaaaaaaaaaaaaaaa'],
      ['GET', '/v1/workflow-approvals?status=maybe'],
      ['GET', `/v1/workflow-runs/${params.workflowRunId}/events?after=-1`],
      ['GET', `/v1/workflow-runs/${params.workflowRunId}/events?after=x`],
      ['GET', `/v1/workflow-runs/${params.workflowRunId}/events?follow=maybe`],
    ];
    for (const [method, path] of refused) {
      const response = await server.request(method, path, method === 'POST' ? { body: { approved: true } } : {});
      expect([method, path, response.status, (await errorOf(response)).code]).toEqual([
        method,
        path,
        400,
        'validation_failed',
      ]);
    }
    // Nothing was touched: the run still waits for its approval, the trigger is there.
    const approval = await server.request('GET', `/v1/workflow-approvals/${params.approvalId}`);
    expect(((await approval.json()) as { status: string }).status).toBe('pending');
    const triggers = await server.request('GET', '/v1/workflows/route-params/triggers');
    expect(((await triggers.json()) as { data: { id: string }[] }).data.map((trigger) => trigger.id)).toEqual([
      params.triggerId,
    ]);
  });

  it('answers any body on the public hook route, signed or not, of any type, with a 4xx and a code or a run', async () => {
    const created = await server.request('POST', '/v1/workflows/route-params/triggers', { body: { kind: 'webhook' } });
    expect(created.status).toBe(201);
    const trigger = (await created.json()) as { url: string; secret: string };
    const path = new URL(trigger.url).pathname;
    const bodies: [string, string | Buffer, string][] = [
      ...badBodies.map(([label, body]): [string, string, string] => [label, body, 'application/json']),
      ['form data', 'a=1&b=2', 'application/x-www-form-urlencoded'],
      ['plain text', '{"a":1}', 'text/plain'],
      ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]), 'application/octet-stream'],
      ['nesting past the bound', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'application/json'],
    ];
    let accepted = 0;
    for (const [label, body, contentType] of bodies) {
      for (const signed of [false, true]) {
        const headers: Record<string, string> = { 'content-type': contentType };
        if (signed) headers['x-runtools-signature'] = signWebhook(trigger.secret, body, Math.floor(Date.now() / 1000));
        const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
        const answer = (await response.json()) as { runId?: string; error?: { code: string } };
        // Too deep a body is refused before anything else is looked at, as a body too large is.
        if (label === 'nesting past the bound' || label.startsWith('deep nesting'))
          expect([label, response.status, answer.error?.code]).toEqual([label, 400, 'validation_failed']);
        else if (!signed)
          expect([label, response.status, answer.error?.code]).toEqual([label, 401, 'webhook_signature_invalid']);
        else {
          expect([label, response.status, answer.runId]).toEqual([label, 200, expect.stringMatching(/^wfr_/)]);
          accepted++;
        }
      }
    }
    expect(accepted).toBe(bodies.length - 3);
    // Over the server's body limit, and with no body at all.
    const large = await fetch(`${server.url}${path}`, { method: 'POST', body: 'x'.repeat(250_000) });
    expect([large.status, (await errorOf(large)).code]).toEqual([413, 'payload_too_large']);
    const empty = await fetch(`${server.url}${path}`, { method: 'POST' });
    expect([empty.status, (await errorOf(empty)).code]).toEqual([401, 'webhook_signature_invalid']);
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
