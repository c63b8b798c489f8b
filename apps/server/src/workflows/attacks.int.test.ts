import { type RouteContract, type RouteId, routes, type WorkflowEvent, workflowsRoutes } from '@runtools/spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../../test/support/members.js';
import { concretePath } from '../../../../test/support/route-params.js';
import { useSandboxServer } from '../../../../test/support/server.js';
import { signWebhook } from './webhook-signature.js';

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T & { error?: { code: string; message: string; details?: Record<string, unknown> } };
}

type Graph = { nodes: Record<string, unknown>[]; edges?: Record<string, unknown>[] };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A JSON value nested 1500 deep, as text: past the workflows' bound of 1000 (a problem naming the node or field),
 * within the bound of 2000 on every request body (http/app.ts, tested in bad-input.int.test.ts).
 */
const deepJson = `${'{"a":'.repeat(1500)}"x"${'}'.repeat(1500)}`;

/**
 * The workflow routes attacked from every side the trust boundaries name: a key that lacks a scope, a run or a
 * trigger that would act with more than its caller's rights, hostile graphs and expressions, forged, replayed,
 * oversized and concurrent hook deliveries, another member's private workflow, another org's runs. Every refusal
 * is a 4xx with a machine-readable code, and the server keeps serving.
 */
describe('workflow routes under attack', () => {
  const fixture = useSandboxServer({ RUNTOOLS_QUEUE_LEASE_MS: '2000' });
  const server = () => fixture.server;

  async function api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> {
    const response = await server().request(method, path, options);
    const text = await response.text();
    let body: Answer<T>['body'];
    try {
      body = JSON.parse(text) as Answer<T>['body'];
    } catch {
      throw new Error(
        `${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    // Whatever was sent, never a 500, and every refusal names its code.
    expect([method, path, response.status < 500]).toEqual([method, path, true]);
    if (response.status >= 400) expect([method, path, typeof body.error?.code]).toEqual([method, path, 'string']);
    return { status: response.status, body };
  }

  /** The status and error code of an answer, to compare with `[status, code]`. */
  const refusal = (answer: Answer) => [answer.status, answer.body.error?.code];

  async function keyWith(scopes: string[], key?: string): Promise<string> {
    const created = await api<{ key: string }>('POST', '/v1/auth/keys', {
      ...(key ? { key } : {}),
      body: { name: scopes.join(' '), scopes },
    });
    expect(created.status).toBe(201);
    return created.body.key;
  }

  async function save(name: string, graph: Graph, options: { key?: string; visibility?: 'org' | 'private' } = {}) {
    const key = options.key ? { key: options.key } : {};
    const saved = await api<{ slug: string }>('POST', '/v1/workflows', { ...key, body: { name, graph } });
    expect([name, saved.status, saved.body.error]).toEqual([name, 200, undefined]);
    const published = await api('POST', `/v1/workflows/${saved.body.slug}/publish`, {
      ...key,
      body: { visibility: options.visibility ?? 'org' },
    });
    expect([name, published.status]).toEqual([name, 201]);
    return saved.body.slug;
  }

  async function run(slug: string, input: Record<string, unknown> = {}, key?: string): Promise<string> {
    const started = await api<{ runId: string }>('POST', `/v1/workflows/${slug}/runs`, {
      ...(key ? { key } : {}),
      body: { input },
    });
    expect([slug, started.status, started.body.error?.message]).toEqual([slug, 201, undefined]);
    return started.body.runId;
  }

  interface RunDetail {
    status: string;
    output: unknown;
    error: { code: string; message: string; nodeId?: string } | null;
    nodes: { nodeId: string; status: string; output: unknown; error: { code: string; message: string } | null }[];
  }

  /** Waits for a run to reach one of `statuses` (by default: to end), and answers it. */
  async function until(
    runId: string,
    statuses = ['completed', 'failed', 'cancelled', 'timed_out'],
    timeoutMs = 60_000,
  ): Promise<RunDetail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const detail = await api<RunDetail>('GET', `/v1/workflow-runs/${runId}`);
      expect(detail.status).toBe(200);
      if (statuses.includes(detail.body.status)) return detail.body;
      if (Date.now() > deadline)
        throw new Error(
          `run ${runId} is ${detail.body.status}, not ${statuses.join(' or ')}: ${JSON.stringify(detail.body)}`,
        );
      await sleep(100);
    }
  }

  async function pendingApproval(runId: string): Promise<string> {
    for (let tries = 0; tries < 300; tries++) {
      const approvals = await api<{ data: { id: string }[] }>('GET', `/v1/workflow-approvals?runId=${runId}`);
      const id = approvals.body.data[0]?.id;
      if (id) return id;
      await sleep(100);
    }
    throw new Error(`run ${runId} never asked for its approval`);
  }

  async function events(runId: string, key?: string): Promise<WorkflowEvent[]> {
    const response = await server().request('GET', `/v1/workflow-runs/${runId}/events?follow=false`, {
      ...(key ? { key } : {}),
    });
    expect(response.status).toBe(200);
    return (await response.text())
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice('data:'.length)) as WorkflowEvent);
  }

  async function runsOf(slug: string): Promise<{ runId: string; status: string; trigger: { triggerId: string } }[]> {
    const list = await api<{ data: { runId: string; status: string; trigger: { triggerId: string } }[] }>(
      'GET',
      `/v1/workflow-runs?workflow=${slug}&limit=1000`,
    );
    return list.body.data;
  }

  const approvalGraph: Graph = {
    nodes: [
      { id: 'gate', type: 'approval', config: { message: 'go on?' } },
      { id: 'out', type: 'output', config: { expression: '"approved"' } },
    ],
    edges: [{ source: 'gate', target: 'out' }],
  };
  const plainGraph: Graph = {
    nodes: [{ id: 'out', type: 'output', config: { expression: '{ "got": trigger.body }' } }],
  };

  beforeAll(async () => {
    // What the graphs below name, made with every scope: an agent, an installed tool.
    expect((await api('POST', '/v1/agents', { body: { slug: 'helper', model: 'claude-haiku-4.5' } })).status).toBe(201);
    expect((await api('POST', '/v1/tools/github/install')).status).toBe(200);
    await save('Gated', approvalGraph);
    await save('Plain', plainGraph);
    await save('Uses agent', {
      nodes: [{ id: 'think', type: 'agent', config: { agent: 'helper', prompt: 'hello' } }],
    });
    await save('Uses sandbox', { nodes: [{ id: 'shell', type: 'sandbox', config: { command: 'echo hi' } }] });
    await save('Uses tool', {
      nodes: [
        { id: 'call', type: 'tool', config: { tool: 'github', action: 'get_repo', params: { owner: 'o', repo: 'r' } } },
      ],
    });
  }, 120_000);

  it('lets no key without workflows:execute run, cancel, resolve an approval or create a trigger', async () => {
    const runId = await run('gated');
    const approvalId = await pendingApproval(runId);
    const before = (await runsOf('gated')).length;
    const writer = await keyWith(['workflows:read', 'workflows:write']);
    const attempts: [string, string, unknown][] = [
      ['POST', '/v1/workflows/gated/runs', { input: {} }],
      ['POST', '/v1/workflows/gated/runs', { input: {}, version: 'draft' }],
      ['POST', `/v1/workflow-runs/${runId}/cancel`, undefined],
      ['POST', `/v1/workflow-approvals/${approvalId}/resolve`, { approved: true }],
      ['POST', '/v1/workflows/gated/triggers', { kind: 'cron', schedule: '* * * * *' }],
      ['POST', '/v1/workflows/gated/triggers', { kind: 'webhook' }],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await api(method, path, { key: writer, body });
      expect([path, body, ...refusal(answer)]).toEqual([path, body, 403, 'insufficient_scope']);
    }
    // A key that may execute but not write runs no draft (the draft is what write may change).
    const executor = await keyWith(['workflows:read', 'workflows:execute']);
    const draft = await api('POST', '/v1/workflows/gated/runs', {
      key: executor,
      body: { input: {}, version: 'draft' },
    });
    expect(refusal(draft)).toEqual([403, 'insufficient_scope']);
    expect((await runsOf('gated')).length).toBe(before);
    expect((await api<{ status: string }>('GET', `/v1/workflow-approvals/${approvalId}`)).body.status).toBe('pending');
    expect((await api<{ status: string }>('GET', `/v1/workflow-runs/${runId}`)).body.status).toBe('waiting');
    expect((await api<{ data: unknown[] }>('GET', '/v1/workflows/gated/triggers')).body.data).toEqual([]);
    // The executor can do what the writer could not.
    expect(
      (await api('POST', `/v1/workflow-approvals/${approvalId}/resolve`, { key: executor, body: { approved: true } }))
        .status,
    ).toBe(200);
    expect((await until(runId)).status).toBe('completed');
  });

  it("runs every node with its caller's rights: an agent, sandbox or tool node fails on the scope the key lacks, naming the node", async () => {
    // The graphs were saved with every scope; a key with workflows:* and nothing else runs them.
    const workflowsOnly = await keyWith(['workflows:*']);
    const cases: [string, string, string][] = [
      ['uses-agent', 'think', 'agents:write'],
      ['uses-sandbox', 'shell', 'sandboxes:write'],
      ['uses-tool', 'call', 'tools:execute'],
    ];
    for (const [slug, nodeId, missing] of cases) {
      const detail = await until(await run(slug, {}, workflowsOnly));
      expect([slug, detail.status, detail.error?.code, detail.error?.nodeId]).toEqual([
        slug,
        'failed',
        'insufficient_scope',
        nodeId,
      ]);
      expect(detail.error?.message).toContain(missing);
      expect(detail.nodes.map((node) => [node.nodeId, node.status, node.error?.code])).toEqual([
        [nodeId, 'failed', 'insufficient_scope'],
      ]);
    }
    // Nothing was done for it: no agent run, no sandbox, no tool call.
    expect((await api<{ data: unknown[] }>('GET', '/v1/runs')).body.data).toEqual([]);
    expect((await api<{ data: unknown[] }>('GET', '/v1/sandboxes')).body.data).toEqual([]);
    expect((await api<{ data: unknown[] }>('GET', '/v1/tools/executions')).body.data).toEqual([]);
  });

  it("acts for a trigger with its creator key's scopes, and starts nothing once its creator has left the org", async () => {
    // A trigger made by a key with workflows:* only: its runs have that key's scopes, not its member's.
    const workflowsOnly = await keyWith(['workflows:*']);
    const narrow = await api<{ url: string; secret: string; id: string }>('POST', '/v1/workflows/uses-tool/triggers', {
      key: workflowsOnly,
      body: { kind: 'webhook' },
    });
    expect(narrow.status).toBe(201);
    const delivered = await deliver(narrow.body, '{}', 'narrow-1');
    expect(delivered.status).toBe(200);
    const detail = await until((delivered.body as { runId: string }).runId);
    expect([detail.status, detail.error?.code, detail.error?.nodeId]).toEqual(['failed', 'insufficient_scope', 'call']);

    // A member with a key of every scope makes a webhook trigger and a cron trigger (every second), then leaves.
    const leaver = await addMember(server(), 'leaver@attacks.example', 'member');
    const hook = await api<{ url: string; secret: string; id: string }>('POST', '/v1/workflows/plain/triggers', {
      key: leaver.apiKey.key,
      body: { kind: 'webhook' },
    });
    const cron = await api<{ id: string }>('POST', '/v1/workflows/plain/triggers', {
      key: leaver.apiKey.key,
      body: { kind: 'cron', schedule: '* * * * * *' },
    });
    expect([hook.status, cron.status]).toEqual([201, 201]);
    const first = await deliver(hook.body, '{"n":1}', 'leaver-1');
    expect(first.status).toBe(200);
    expect((await until((first.body as { runId: string }).runId)).output).toEqual({ got: { n: 1 } });
    const fromCron = async () => (await runsOf('plain')).filter((entry) => entry.trigger.triggerId === cron.body.id);
    for (let tries = 0; tries < 50 && (await fromCron()).length === 0; tries++) await sleep(100);
    expect((await fromCron()).length).toBeGreaterThan(0);

    expect((await api('DELETE', `/v1/members/${leaver.member.id}`)).status).toBe(200);
    await sleep(1500);
    const runsBefore = (await runsOf('plain')).length;
    const refused = await deliver(hook.body, '{"n":2}', 'leaver-2');
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.body.error?.code).toMatch(/^(member_required|api_key_revoked|unauthenticated)$/);
    await sleep(3000);
    expect((await runsOf('plain')).length).toBe(runsBefore);
  });

  it('lets a trigger made with a key live no longer than the key: revoked or expired, it starts nothing', async () => {
    const before = (await runsOf('plain')).length;
    const revoked = await api<{ id: string; key: string }>('POST', '/v1/auth/keys', {
      body: { name: 'revoked soon', scopes: ['workflows:*'] },
    });
    const expiring = await api<{ id: string; key: string; expiresAt: string }>('POST', '/v1/auth/keys', {
      body: { name: 'expiring', scopes: ['workflows:*'], expiresAt: new Date(Date.now() + 2000).toISOString() },
    });
    const triggers: { url: string; secret: string }[] = [];
    for (const key of [revoked.body.key, expiring.body.key]) {
      const created = await api<{ url: string; secret: string }>('POST', '/v1/workflows/plain/triggers', {
        key,
        body: { kind: 'webhook' },
      });
      expect(created.status).toBe(201);
      triggers.push(created.body);
    }
    const [byRevoked, byExpiring] = triggers as [{ url: string; secret: string }, { url: string; secret: string }];
    expect((await deliver(byRevoked, '{"n":1}', 'k-1')).status).toBe(200);
    expect((await api('DELETE', `/v1/auth/keys/${revoked.body.id}`)).status).toBe(200);
    expect(refusal(await deliver(byRevoked, '{"n":2}', 'k-2'))).toEqual([401, 'api_key_revoked']);
    // The refused delivery's id is not used up: sent again, it is refused for its cause, not as a replay.
    expect(refusal(await deliver(byRevoked, '{"n":2}', 'k-2'))).toEqual([401, 'api_key_revoked']);
    await sleep(Math.max(0, Date.parse(expiring.body.expiresAt) - Date.now() + 200));
    expect(refusal(await deliver(byExpiring, '{"n":3}', 'k-3'))).toEqual([401, 'api_key_expired']);
    expect((await runsOf('plain')).length).toBe(before + 1);
  });

  it('takes a delivery whose run could not start again once the cause is gone, and then only once', async () => {
    const saved = await api('POST', '/v1/workflows', { body: { name: 'Not yet', graph: plainGraph } });
    expect(saved.status).toBe(200);
    const trigger = await api<{ url: string; secret: string }>('POST', '/v1/workflows/not-yet/triggers', {
      body: { kind: 'webhook' },
    });
    expect(trigger.status).toBe(201);
    expect(refusal(await deliver(trigger.body, '{"n":1}', 'early-1'))).toEqual([409, 'workflow_not_published']);
    expect((await api('POST', '/v1/workflows/not-yet/publish', { body: { visibility: 'org' } })).status).toBe(201);
    const accepted = await deliver(trigger.body, '{"n":1}', 'early-1');
    expect(accepted.status).toBe(200);
    expect((await until((accepted.body as { runId: string }).runId)).output).toEqual({ got: { n: 1 } });
    expect(refusal(await deliver(trigger.body, '{"n":1}', 'early-1'))).toEqual([409, 'webhook_replayed']);
  });

  /** POSTs `body` to a webhook trigger's URL, signed with its secret now. */
  async function deliver(
    trigger: { url: string; secret: string },
    body: string,
    deliveryId?: string,
    secret = trigger.secret,
  ): Promise<Answer> {
    const path = new URL(trigger.url).pathname;
    return api('POST', path, {
      key: null,
      body,
      headers: {
        'content-type': 'application/json',
        'x-runtools-signature': signWebhook(secret, body, Math.floor(Date.now() / 1000)),
        ...(deliveryId ? { 'x-runtools-delivery': deliveryId } : {}),
      },
    });
  }

  describe('hostile graphs', () => {
    it('refuses graphs past their bounds at save: a 10k-character expression, 501 nodes, deep nesting, a loop without a bound', async () => {
      const tooLong = await api('POST', '/v1/workflows', {
        body: {
          name: 'Long',
          graph: { nodes: [{ id: 'a', type: 'transform', config: { expression: `1${'+1'.repeat(5000)}` } }] },
        },
      });
      expect(refusal(tooLong)).toEqual([422, 'workflow_invalid']);
      expect(tooLong.body.error?.details?.problems).toContainEqual(expect.objectContaining({ nodeId: 'a' }));
      const tooMany = await api('POST', '/v1/workflows', {
        body: {
          name: 'Many',
          graph: {
            nodes: Array.from({ length: 501 }, (_, index) => ({
              id: `n${index}`,
              type: 'output',
              config: { expression: '1' },
            })),
          },
        },
      });
      expect(refusal(tooMany)).toEqual([400, 'validation_failed']);
      const selfLoop = await api('POST', '/v1/workflows', {
        body: {
          name: 'Loop',
          graph: {
            nodes: [{ id: 'a', type: 'transform', config: { expression: '1' } }],
            edges: [{ source: 'a', target: 'a' }],
          },
        },
      });
      expect(refusal(selfLoop)).toEqual([422, 'workflow_invalid']);
      expect(selfLoop.body.error?.details?.problems).toContainEqual(expect.objectContaining({ nodeId: 'a' }));
      // Within the length bound, but nested past what a parser's stack can take.
      const nested = await api('POST', '/v1/workflows', {
        body: {
          name: 'Nested',
          graph: {
            nodes: [{ id: 'a', type: 'transform', config: { expression: `${'('.repeat(4999)}1${')'.repeat(4999)}` } }],
          },
        },
      });
      expect(nested.status).toBeLessThan(500);
      // A config value nested 1500 deep (a tool's params may be any JSON), written by hand.
      const deepParams = await api('POST', '/v1/workflows', {
        body: `{"name":"Deep","graph":{"nodes":[{"id":"a","type":"tool","config":{"tool":"github","action":"get_repo","params":{"deep":${deepJson}}}}]}}`,
      });
      expect(refusal(deepParams)).toEqual([422, 'workflow_invalid']);
      expect(deepParams.body.error?.details?.problems).toEqual([
        expect.objectContaining({ code: 'too_deep', nodeId: 'a' }),
      ]);
      const deepCheck = await api<{ valid: boolean; problems: unknown[] }>('POST', '/v1/workflows/validate', {
        body: `{"graph":{"nodes":[{"id":"a","type":"transform","config":{"expression":"1","extra":${deepJson}}}]}}`,
      });
      expect([deepCheck.status, deepCheck.body.valid, deepCheck.body.problems]).toEqual([
        200,
        false,
        [expect.objectContaining({ code: 'too_deep', nodeId: 'a' })],
      ]);
      // Nor as an input schema, a run's input or a trigger's.
      for (const [path, body] of [
        [
          '/v1/workflows',
          `{"name":"Deep schema","graph":${JSON.stringify(plainGraph)},"inputSchema":{"deep":${deepJson}}}`,
        ],
        ['/v1/workflows/plain/runs', `{"input":{"deep":${deepJson}}}`],
        ['/v1/workflows/plain/triggers', `{"kind":"webhook","input":{"deep":${deepJson}}}`],
      ] as const) {
        const answer = await api('POST', path, { body });
        expect([path, ...refusal(answer), answer.body.error?.message]).toEqual([
          path,
          400,
          'validation_failed',
          expect.stringMatching(/nests deeper than 1000 levels/),
        ]);
      }
      const names = (await api<{ data: { slug: string }[] }>('GET', '/v1/workflows')).body.data.map(
        (item) => item.slug,
      );
      for (const slug of ['long', 'many', 'loop', 'deep', 'deep-schema']) expect(names).not.toContain(slug);
      expect((await api('GET', '/v1/health', { key: null })).status).toBe(200);
    });

    it('runs a graph whose node ids and configs are prototype keys as plain names, polluting nothing', async () => {
      const ids = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
      const slug = await save('Prototype keys', {
        nodes: [
          { id: '__proto__', type: 'transform', config: { expression: 'input.n' } },
          { id: 'constructor', type: 'transform', config: { expression: 'nodes.__proto__.output + 1' } },
          {
            id: 'prototype',
            type: 'transform',
            config: { expression: '{ "__proto__": { "polluted": true }, "constructor": 1 }' },
          },
          { id: 'hasOwnProperty', type: 'transform', config: { expression: '$sort($keys(nodes))' } },
          {
            id: 'toString',
            type: 'output',
            config: {
              expression:
                '{ "sum": nodes.constructor.output, "keys": nodes.hasOwnProperty.output, "proto": nodes.prototype.output, "input": input }',
            },
          },
        ],
        edges: [
          { source: '__proto__', target: 'constructor' },
          { source: 'constructor', target: 'prototype' },
          { source: 'prototype', target: 'hasOwnProperty' },
          { source: 'hasOwnProperty', target: 'toString' },
        ],
      });
      const input = JSON.parse(
        '{ "n": 41, "__proto__": { "polluted": true }, "constructor": { "prototype": { "polluted": true } } }',
      );
      const detail = await until(await run(slug, input));
      expect([detail.status, detail.error]).toEqual(['completed', null]);
      expect(detail.output).toEqual({
        sum: 42,
        keys: ids.slice(0, 3),
        proto: JSON.parse('{ "__proto__": { "polluted": true }, "constructor": 1 }'),
        // The run's input is a record at the API boundary, where zod drops a `__proto__` key (into no prototype).
        input: JSON.parse('{ "n": 41, "constructor": { "prototype": { "polluted": true } } }'),
      });
      expect(detail.nodes.map((node) => node.nodeId).sort()).toEqual([...ids].sort());
      // The server runs in this process: nothing reached its prototypes.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('fails a node whose expression loops, recurses or allocates with a clear error, and keeps serving meanwhile', async () => {
      const hostile: Record<string, string> = {
        recursion: '($f := function($n) { $f($n + 1) + 1 }; $f(0))',
        exponential: '($f := function($n) { $n < 1 ? 1 : $f($n - 1) + $f($n - 1) }; $f(60))',
        range: '$count([1..100000000])',
        doubling: '$reduce([1..40], function($acc) { $acc & $acc }, "xxxxxxxx")',
        padding: '$pad("x", 1000000000)',
        nesting: '$reduce([1..5000], function($acc) { [$acc] }, [])',
      };
      const runIds: Record<string, string> = {};
      for (const [name, expression] of Object.entries(hostile)) {
        const slug = await save(`Hostile ${name}`, {
          nodes: [
            { id: name, type: 'transform', config: { expression } },
            { id: 'out', type: 'output', config: { expression: `nodes.${name}.output` } },
          ],
          edges: [{ source: name, target: 'out' }],
        });
        runIds[name] = await run(slug);
      }
      // While they run, the server answers at once.
      for (let index = 0; index < 10; index++) {
        const started = Date.now();
        expect((await api('GET', '/v1/health', { key: null })).status).toBe(200);
        expect(Date.now() - started).toBeLessThan(1000);
        await sleep(100);
      }
      for (const [name, runId] of Object.entries(runIds)) {
        const detail = await until(runId);
        expect([name, detail.status, detail.error?.nodeId]).toEqual([name, 'failed', name]);
        expect(detail.error?.message.length).toBeGreaterThan(10);
        expect(detail.error?.code).not.toBe('internal_error');
      }
    });

    it('fails a bounded self-loop at its bound with loop_limit_reached', async () => {
      const slug = await save('Bounded loop', {
        nodes: [{ id: 'again', type: 'transform', config: { expression: '1' } }],
        edges: [{ source: 'again', target: 'again', maxIterations: 5 }],
      });
      const detail = await until(await run(slug));
      expect([detail.status, detail.error?.code, detail.error?.nodeId]).toEqual([
        'failed',
        'loop_limit_reached',
        'again',
      ]);
    });
  });

  describe('hooks', () => {
    let first: { id: string; url: string; secret: string };
    let second: { id: string; url: string; secret: string };
    beforeAll(async () => {
      await save('Hooked', plainGraph);
      for (const target of ['first', 'second'] as const) {
        const created = await api<{ id: string; url: string; secret: string }>(
          'POST',
          '/v1/workflows/hooked/triggers',
          {
            body: { kind: 'webhook' },
          },
        );
        expect(created.status).toBe(201);
        if (target === 'first') first = created.body;
        else second = created.body;
      }
    });

    it('refuses a body over 1 MiB with 413, a random token with 404, and a delivery signed for another trigger with 401', async () => {
      const before = (await runsOf('hooked')).length;
      const huge = JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 10) });
      expect(refusal(await deliver(first, huge, 'huge-1'))).toEqual([413, 'payload_too_large']);
      const randomToken = `/v1/hooks/wh_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url')}`;
      const unknown = await api('POST', randomToken, { key: null, body: '{}' });
      expect(refusal(unknown)).toEqual([404, 'trigger_not_found']);
      expect(refusal(await api('POST', randomToken, { key: null, body: huge }))).toEqual([413, 'payload_too_large']);
      // A body nested past the bound: refused before it is recorded, so the sender may send it again.
      const deepBody = `{"deep":${deepJson}}`;
      expect(refusal(await deliver(first, deepBody, 'deep-1'))).toEqual([400, 'validation_failed']);
      expect(refusal(await deliver(first, huge, 'deep-1'))).toEqual([413, 'payload_too_large']);
      expect((await deliver(first, '{"fixed":true}', 'deep-1')).status).toBe(200);
      // Signed with the first trigger's secret, sent to the second's URL.
      const crossed = await deliver(second, '{"x":1}', 'crossed-1', first.secret);
      expect(refusal(crossed)).toEqual([401, 'webhook_signature_invalid']);
      expect((await runsOf('hooked')).length).toBe(before + 1);
    });

    it('refuses a replayed delivery with 409, and starts exactly one run for 20 identical deliveries at once', async () => {
      const accepted = await deliver(first, '{"n":1}', 'once-1');
      expect(accepted.status).toBe(200);
      expect(refusal(await deliver(first, '{"n":1}', 'once-1'))).toEqual([409, 'webhook_replayed']);
      // The same delivery id is the other trigger's own to use.
      expect((await deliver(second, '{"n":1}', 'once-1')).status).toBe(200);

      for (const deliveryId of ['burst-1', undefined]) {
        const before = (await runsOf('hooked')).length;
        const body = JSON.stringify({ burst: deliveryId ?? 'unnamed' });
        const now = Math.floor(Date.now() / 1000);
        const headers = {
          'content-type': 'application/json',
          'x-runtools-signature': signWebhook(first.secret, body, now),
          ...(deliveryId ? { 'x-runtools-delivery': deliveryId } : {}),
        };
        const path = new URL(first.url).pathname;
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => api('POST', path, { key: null, body, headers })),
        );
        const statuses = answers.map((answer) => answer.status).sort();
        expect([deliveryId, statuses]).toEqual([deliveryId, [200, ...Array(19).fill(409)]]);
        for (const answer of answers)
          if (answer.status === 409) expect(answer.body.error?.code).toBe('webhook_replayed');
        expect([deliveryId, (await runsOf('hooked')).length]).toEqual([deliveryId, before + 1]);
      }
    });

    it('resumes a webhook-wait node once, from the URL its node.waiting event gives, with the body as its output', async () => {
      const slug = await save('Waits for a call', {
        nodes: [
          { id: 'hook', type: 'webhook-wait' },
          { id: 'out', type: 'output', config: { expression: 'nodes.hook.output.body' } },
        ],
        edges: [{ source: 'hook', target: 'out' }],
      });
      const runId = await run(slug);
      await until(runId, ['waiting']);
      const waiting = (await events(runId)).find((event) => event.type === 'node.waiting' && event.nodeId === 'hook');
      const url = (waiting?.data as { url?: string } | undefined)?.url;
      expect(url).toMatch(/\/v1\/hooks\/wh_[A-Za-z0-9_-]{32}$/);
      const path = new URL(url as string).pathname;
      // Too large a call does not use the wait up.
      const huge = await api('POST', path, { key: null, body: JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 10) }) });
      expect(refusal(huge)).toEqual([413, 'payload_too_large']);
      const deep = await api('POST', path, { key: null, body: `{"deep":${deepJson}}` });
      expect(refusal(deep)).toEqual([400, 'validation_failed']);
      const resumed = await api<{ runId: string }>('POST', path, { key: null, body: { approved: 'by a call' } });
      expect([resumed.status, resumed.body.runId]).toEqual([200, runId]);
      const detail = await until(runId);
      expect([detail.status, detail.output]).toEqual(['completed', { approved: 'by a call' }]);
      expect(refusal(await api('POST', path, { key: null, body: { again: true } }))).toEqual([
        404,
        'trigger_not_found',
      ]);
    });
  });

  it('hides a private workflow, and its runs and approvals, from another member', async () => {
    const slug = await save('Secret plan', approvalGraph, { visibility: 'private' });
    const runId = await run(slug, { plan: 'confidential' });
    const approvalId = await pendingApproval(runId);
    const other = (await addMember(server(), 'other@attacks.example', 'member')).apiKey.key;
    const denied: [string, string, unknown][] = [
      ['GET', `/v1/workflows/${slug}`, undefined],
      ['GET', `/v1/workflows/${slug}/versions`, undefined],
      ['GET', `/v1/workflows/${slug}/versions/1`, undefined],
      ['GET', `/v1/workflows/${slug}/triggers`, undefined],
      ['POST', `/v1/workflows/${slug}/runs`, { input: {} }],
      ['POST', `/v1/workflows/${slug}/publish`, { visibility: 'org' }],
      ['POST', `/v1/workflows/${slug}/triggers`, { kind: 'webhook' }],
      ['DELETE', `/v1/workflows/${slug}`, undefined],
      ['GET', `/v1/workflow-runs/${runId}`, undefined],
      ['GET', `/v1/workflow-runs/${runId}/events`, undefined],
      ['POST', `/v1/workflow-runs/${runId}/cancel`, undefined],
      ['GET', `/v1/workflow-approvals/${approvalId}`, undefined],
      ['POST', `/v1/workflow-approvals/${approvalId}/resolve`, { approved: true }],
    ];
    for (const [method, path, body] of denied) {
      const answer = await api(method, path, { key: other, body });
      expect([method, path, answer.status]).toEqual([method, path, 404]);
    }
    // Saving over its slug does not take it over either.
    const overwrite = await api('POST', '/v1/workflows', {
      key: other,
      body: { name: 'Secret plan', graph: plainGraph },
    });
    expect(overwrite.status).toBe(404);
    for (const path of ['/v1/workflows', '/v1/workflow-runs', '/v1/workflow-approvals']) {
      const text = JSON.stringify((await api('GET', path, { key: other })).body);
      expect([path, text.includes(slug), text.includes(runId), text.includes('confidential')]).toEqual([
        path,
        false,
        false,
        false,
      ]);
    }
    const mine = await api<{ status: string; graph: unknown }>('GET', `/v1/workflows/${slug}`);
    expect(mine.body.graph).toEqual(approvalGraph);
    expect((await api<{ status: string }>('GET', `/v1/workflow-runs/${runId}`)).body.status).toBe('waiting');
    expect((await api<{ status: string }>('GET', `/v1/workflow-approvals/${approvalId}`)).body.status).toBe('pending');
    await api('POST', `/v1/workflow-runs/${runId}/cancel`);
  });

  it('refuses to cancel a run that has ended with 409 run_finished', async () => {
    const runId = await run('plain');
    expect((await until(runId)).status).toBe('completed');
    expect(refusal(await api('POST', `/v1/workflow-runs/${runId}/cancel`))).toEqual([409, 'run_finished']);
    const waiting = await run('gated');
    await pendingApproval(waiting);
    expect((await api<{ status: string }>('POST', `/v1/workflow-runs/${waiting}/cancel`)).body.status).toBe(
      'cancelled',
    );
    expect(refusal(await api('POST', `/v1/workflow-runs/${waiting}/cancel`))).toEqual([409, 'run_finished']);
  });

  it("answers 404 for another org's run, its events and its approval", async () => {
    const runId = await run('gated');
    const approvalId = await pendingApproval(runId);
    const org = await api<{ apiKey: { key: string } }>('POST', '/v1/orgs', { body: { name: 'Elsewhere' } });
    const stranger = org.body.apiKey.key;
    for (const [method, path, body] of [
      ['GET', `/v1/workflow-runs/${runId}`, undefined],
      ['GET', `/v1/workflow-runs/${runId}/events`, undefined],
      ['GET', `/v1/workflow-runs/${runId}/events?follow=false&after=0`, undefined],
      ['POST', `/v1/workflow-runs/${runId}/cancel`, undefined],
      ['GET', `/v1/workflow-approvals/${approvalId}`, undefined],
      ['POST', `/v1/workflow-approvals/${approvalId}/resolve`, { approved: true }],
      ['GET', '/v1/workflows/gated', undefined],
    ] as const) {
      const answer = await api(method, path, { key: stranger, body });
      expect([path, answer.status]).toEqual([path, 404]);
    }
    expect((await api<{ status: string }>('GET', `/v1/workflow-runs/${runId}`)).body.status).toBe('waiting');
    await api('POST', `/v1/workflow-runs/${runId}/cancel`);
  });

  it('answers every workflow route, whatever its path parameters, query and body, with a 4xx and a code or a success, never a 500', async () => {
    const paramValues: Record<string, string[]> = {
      slug: ['gated', 'no-such-flow', 'x'.repeat(300), 'Ünïcode', '..', '%00'],
      version: ['1', '0', '-1', '1.5', 'abc', '3000000000', '99999999999999999999', '1e3'],
      triggerId: ['trg_aaaaaaaaaaaaaaaaaaaa', 'trg_', 'x'.repeat(300)],
      workflowRunId: ['wfr_aaaaaaaaaaaaaaaaaaaa', 'run_aaaaaaaaaaaaaaaaaaaa', '%00'],
      approvalId: ['apv_aaaaaaaaaaaaaaaaaaaa', 'apv_', "' or 1=1 --"],
      token: ['wh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'short', 'x'.repeat(250)],
    };
    const queries = [
      '',
      '?limit=0',
      '?limit=abc',
      '?after=-1',
      '?after=3000000000&follow=false',
      '?follow=maybe',
      '?status=nope',
      '?cursor=%00',
    ];
    const bodies: unknown[] = [
      undefined,
      {},
      { input: { deep: JSON.parse(`${'['.repeat(900)}${']'.repeat(900)}`) } },
      'not json',
    ];
    const workflowRoutes = (Object.entries(routes) as [RouteId, RouteContract][]).filter(
      ([id]) => id in workflowsRoutes,
    );
    expect(workflowRoutes.length).toBe(Object.keys(workflowsRoutes).length);
    let requests = 0;
    for (const [, contract] of workflowRoutes) {
      const names = [...contract.path.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1] as string);
      for (const name of names.length ? names : ['']) {
        for (const value of name ? (paramValues[name] as string[]) : ['']) {
          const values = Object.fromEntries(names.map((other) => [other, paramValues[other]?.[0] as string]));
          if (name) values[name] = value;
          const path = concretePath(contract.path, values).replaceAll('%2500', '%00');
          for (const query of contract.method === 'GET' ? queries : ['']) {
            for (const body of contract.method === 'GET' || contract.method === 'DELETE' ? [undefined] : bodies) {
              // Nothing here may delete or cancel what the other tests use.
              if (contract.method === 'DELETE' && values.slug === 'gated') continue;
              const answer = await server().request(contract.method, `${path}${query}`, {
                body,
                headers: contract.stream ? { accept: 'text/event-stream' } : {},
              });
              requests++;
              const text = contract.stream && answer.status === 200 ? '' : await answer.text();
              if (contract.stream && answer.status === 200) await answer.body?.cancel();
              expect([contract.method, path, query, answer.status < 500]).toEqual([contract.method, path, query, true]);
              if (answer.status >= 400)
                expect([path, query, (JSON.parse(text) as { error?: { code?: unknown } }).error?.code]).toEqual([
                  path,
                  query,
                  expect.any(String),
                ]);
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(200);
  }, 180_000);
});
