import { mapRouteParams, type RouteContract, routes, workflowsRoutes } from '@runtools/spec';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';
import { signWebhook } from '../workflows/webhook-signature.js';

interface Operation {
  security?: unknown[];
  'x-required-scopes'?: string[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: { required: boolean; content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown> }>;
}

describe('OpenAPI document', () => {
  let server: TestServer;
  let document: { paths: Record<string, Record<string, { operationId: string; 'x-required-scopes'?: string[] }>> };
  beforeAll(async () => {
    server = await startTestServer();
    const response = await server.request('GET', '/v1/openapi.json', { key: null });
    expect(response.status).toBe(200);
    document = (await response.json()) as typeof document;
  });
  afterAll(() => server.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('covers every route with its scopes', () => {
    for (const [id, contract] of Object.entries(routes) as [string, RouteContract][]) {
      const operation =
        document.paths[mapRouteParams(contract.path, (name) => `{${name}}`)]?.[contract.method.toLowerCase()];
      expect(operation?.operationId, id).toBe(id);
      if (contract.auth === 'key') expect(operation?.['x-required-scopes'], id).toEqual([...contract.scopes]);
    }
  });

  it('documents the public hook route without a key, taking a raw body of any type, and run events as a stream', () => {
    const hook = document.paths['/v1/hooks/{token}']?.post as unknown as Operation;
    expect(hook.security).toEqual([]);
    expect(hook['x-required-scopes']).toBeUndefined();
    expect(Object.keys(hook.requestBody?.content ?? {})).toEqual(['*/*']);
    expect(hook.requestBody?.required).toBe(false);
    const events = document.paths['/v1/workflow-runs/{workflowRunId}/events']?.get as unknown as Operation;
    expect(Object.keys(events.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    expect(events.parameters?.map((parameter) => [parameter.name, parameter.in, parameter.required])).toEqual([
      ['workflowRunId', 'path', true],
      ['after', 'query', false],
      ['follow', 'query', false],
    ]);
  });

  it("describes what the workflow routes answer: each real answer fits its operation's documented schema", async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ ...document, $id: 'openapi' });
    const pointer = (...parts: string[]) =>
      parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
    const checked = new Set<string>();
    async function fits(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
      const response = await server.request(method, path, body === undefined ? {} : { body });
      const answer = (await response.json()) as Record<string, unknown>;
      const id = (Object.entries(routes) as [string, RouteContract][]).find(
        ([, contract]) =>
          contract.method === method &&
          new RegExp(`^${contract.path.replace(/:[A-Za-z]+/g, '[^/]+')}$`).test(path.split('?')[0] as string),
      )?.[0] as string;
      const contract = routes[id as keyof typeof routes] as RouteContract;
      const template = mapRouteParams(contract.path, (name) => `{${name}}`);
      const status = String(response.status);
      const validate = ajv.getSchema(
        `openapi#/${pointer('paths', template, method.toLowerCase(), 'responses', status, 'content', 'application/json', 'schema')}`,
      );
      expect([id, status, validate !== undefined]).toEqual([id, String(contract.status), true]);
      // The schema bites: an empty object is not an answer of any of these routes.
      expect([id, validate?.({})]).toEqual([id, false]);
      const valid = validate?.(answer);
      expect([id, valid, validate?.errors ?? null]).toEqual([id, true, null]);
      checked.add(id);
      return answer;
    }
    const graph = {
      nodes: [
        { id: 'gate', type: 'approval', config: { message: 'ok?', approvers: ['admin@localhost'] } },
        { id: 'out', type: 'output', config: { expression: '{ "input": input, "when": $now() }' } },
      ],
      edges: [{ source: 'gate', target: 'out' }],
    };
    await fits('POST', '/v1/workflows/validate', { graph: { nodes: [{ id: 'x', type: 'nope' }] } });
    await fits('POST', '/v1/workflows', { name: 'Documented', graph, inputSchema: { type: 'object' } });
    await fits('POST', '/v1/workflows/documented/publish', { visibility: 'private', note: 'first' });
    await fits('GET', '/v1/workflows');
    await fits('GET', '/v1/workflows/documented');
    await fits('GET', '/v1/workflows/documented/versions');
    await fits('GET', '/v1/workflows/documented/versions/1');
    const cron = await fits('POST', '/v1/workflows/documented/triggers', { kind: 'cron', schedule: '0 9 * * 1-5' });
    const hook = await fits('POST', '/v1/workflows/documented/triggers', {
      kind: 'webhook',
      version: 1,
      input: { a: 1 },
    });
    await fits('GET', '/v1/workflows/documented/triggers');
    const run = await fits('POST', '/v1/workflows/documented/runs', { input: { n: 1 } });
    let approvals: { data: { id: string }[] } = { data: [] };
    for (let tries = 0; tries < 200 && approvals.data.length === 0; tries++) {
      approvals = (await fits('GET', `/v1/workflow-approvals?runId=${run.runId}`)) as typeof approvals;
      if (approvals.data.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const approvalId = approvals.data[0]?.id as string;
    await fits('GET', `/v1/workflow-approvals/${approvalId}`);
    await fits('GET', `/v1/workflow-runs/${run.runId}`);
    await fits('POST', `/v1/workflow-approvals/${approvalId}/resolve`, { approved: true, comment: 'fine' });
    for (let tries = 0; tries < 200; tries++) {
      if ((await fits('GET', `/v1/workflow-runs/${run.runId}`)).status === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await fits('GET', '/v1/workflow-runs');
    const second = await fits('POST', '/v1/workflows/documented/runs', { input: {}, idempotencyKey: 'k' });
    await fits('POST', `/v1/workflow-runs/${second.runId}/cancel`);
    const body = JSON.stringify({ event: 'push' });
    const delivered = await fetch(hook.url as string, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-runtools-signature': signWebhook(hook.secret as string, body, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    const validateHook = ajv.getSchema(
      `openapi#/${pointer('paths', '/v1/hooks/{token}', 'post', 'responses', '200', 'content', 'application/json', 'schema')}`,
    );
    const accepted = (await delivered.json()) as { runId: string };
    expect([delivered.status, validateHook?.(accepted), validateHook?.errors ?? null]).toEqual([200, true, null]);
    const deliveredRun = accepted.runId;
    checked.add('hooksDeliver');
    await fits('DELETE', `/v1/workflows/documented/triggers/${cron.id}`);
    const events = await server.request('GET', `/v1/workflow-runs/${run.runId}/events?follow=false`);
    const validateEvent = ajv.getSchema(
      `openapi#/${pointer('paths', '/v1/workflow-runs/{workflowRunId}/events', 'get', 'responses', '200', 'content', 'text/event-stream', 'schema')}`,
    );
    const lines = (await events.text()).split('\n').filter((line) => line.startsWith('data:'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const event = JSON.parse(line.slice('data:'.length)) as unknown;
      expect([event, validateEvent?.(event), validateEvent?.errors ?? null]).toEqual([event, true, null]);
    }
    checked.add('workflowRunsEvents');
    // The delivery's run waits for its approval: a workflow is deleted with no run in progress.
    await fits('POST', `/v1/workflow-runs/${deliveredRun}/cancel`);
    await fits('DELETE', '/v1/workflows/documented');
    expect(Object.keys(workflowsRoutes).filter((id) => !checked.has(id))).toEqual([]);
  });

  it('serves a docs page that loads nothing from outside the server', async () => {
    const response = await server.request('GET', '/docs', { key: null });
    const html = await response.text();
    expect(html).toContain('/v1/openapi.json');
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
  });
});
