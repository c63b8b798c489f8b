import { RunTools } from '@runtools/sdk';
import type { WorkflowEvent } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider, failureOf } from '../../../../test/support/agent-runs.js';
import { type GithubServer, startGithubServer } from '../../../../test/support/github-server.js';
import { addMember } from '../../../../test/support/members.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { startTestServer, type TestServer, useSandboxServer } from '../../../../test/support/server.js';
import { signWebhook } from './webhook-signature.js';

/** The graph of the documented example: an agent, a tool and a sandbox command, a condition, an approval. */
const reviewGraph = {
  nodes: [
    { id: 'review', type: 'agent', config: { agent: 'reviewer', prompt: 'Review this: {{ input.prompt }}' } },
    {
      id: 'repo',
      type: 'tool',
      config: { tool: 'github', action: 'get_repo', params: { owner: 'octo', repo: 'repo-1' } },
    },
    { id: 'count', type: 'sandbox', config: { command: 'echo -n "{{ $length(nodes.review.output.text) }}"' } },
    { id: 'long', type: 'condition', config: { expression: '$number(nodes.count.output.stdout) > 5' } },
    { id: 'approve', type: 'approval', config: { message: 'Post the review of {{ nodes.repo.output.fullName }}?' } },
    { id: 'short', type: 'transform', config: { expression: '"too short"' } },
    {
      id: 'result',
      type: 'output',
      config: {
        expression:
          '{ "review": nodes.review.output.text, "repo": nodes.repo.output.fullName, "approved": nodes.approve.output.approved, "short": nodes.short.output }',
      },
    },
  ],
  edges: [
    { source: 'review', target: 'count' },
    { source: 'repo', target: 'count' },
    { source: 'count', target: 'long' },
    { source: 'long', target: 'approve', condition: true },
    { source: 'long', target: 'short', condition: false },
    { source: 'approve', target: 'result' },
    { source: 'short', target: 'result' },
  ],
};

async function until<T>(read: () => PromiseLike<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let tries = 0; tries < 600; tries++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('workflows: versioned graphs with durable runs, approvals and triggers', () => {
  let model: ModelServer;
  let github: GithubServer;
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    github = await startGithubServer();
    return { RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url, RUNTOOLS_QUEUE_LEASE_MS: '2000' };
  });
  const rt = () => fixture.rt;

  beforeAll(async () => {
    await addMockProvider(rt(), model);
    await rt().agents.create({ slug: 'reviewer', model: 'mock/m', tools: [], sandbox: { runtime: 'container' } });
    await rt().tools.install('github');
    await rt().tools.credentials.set('github', { token: github.token });
  });
  afterAll(async () => {
    await model?.close();
    await github?.close();
  });

  it('runs the documented snippet: save, publish, run, events; an agent, a tool and a command, a branch and an approval', async () => {
    model.script([{ text: 'Looks good to me, ship it.' }]);
    const graph = reviewGraph;
    const saved = await rt().workflows.save({ name: 'Review PR', graph });
    expect(saved).toMatchObject({ slug: 'review-pr', draftRevision: 1, latestVersion: null });
    const version = await rt().workflows.publish('review-pr', { visibility: 'org' });
    expect(version).toMatchObject({ version: 1, visibility: 'org' });
    const run = await rt().workflows.run('review-pr', { prompt: 'Review PR #123' });
    expect(run).toMatchObject({ status: 'queued', version: 1, workflow: 'review-pr' });
    const waiting = await until(
      () => rt().workflows.runs.get(run.runId),
      (detail) => detail.status === 'waiting' || detail.status === 'failed',
      'the approval wait',
    );
    expect(waiting.status).toBe('waiting');
    const approvals = await rt().workflows.approvals.list({ runId: run.runId });
    expect(approvals.map((approval) => approval.message)).toEqual(['Post the review of octo/repo-1?']);
    await rt().workflows.approvals.resolve(approvals[0]?.id as string, { approved: true, comment: 'go' });
    const done = await until(
      () => rt().workflows.runs.get(run.runId),
      (detail) => detail.status === 'completed' || detail.status === 'failed',
      'the run to end',
    );
    expect(done).toMatchObject({
      status: 'completed',
      output: { review: 'Looks good to me, ship it.', repo: 'octo/repo-1', approved: true },
    });
    expect(done.nodes.find((node) => node.nodeId === 'short')?.status).toBe('skipped');
    const agentNode = done.nodes.find((node) => node.nodeId === 'review');
    expect(agentNode?.childRunId).toMatch(/^run_/);
    expect((await rt().agent.get(agentNode?.childRunId as string)).text).toBe('Looks good to me, ship it.');
    const events: WorkflowEvent[] = await rt().workflows.events(run.runId);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events[0]?.type).toBe('run.queued');
    expect(events.at(-1)?.type).toBe('run.completed');
    const types = events.map((event) => `${event.type}${event.nodeId ? `:${event.nodeId}` : ''}`);
    for (const expected of [
      'node.completed:review',
      'node.completed:repo',
      'node.completed:count',
      'node.completed:long',
      'approval.requested:approve',
      'approval.resolved:approve',
      'node.skipped:short',
      'node.completed:result',
    ])
      expect(types).toContain(expected);
    expect(types.indexOf('node.completed:count')).toBeGreaterThan(types.indexOf('node.completed:review'));
    expect(events.find((event) => event.childRunId)?.childRunId).toBe(agentNode?.childRunId);
    // Each transition carries its inputs and outputs, and the tool call links its execution record.
    const repo = events.find((event) => event.type === 'node.completed' && event.nodeId === 'repo');
    expect(repo?.data).toMatchObject({
      input: { tool: 'github', action: 'get_repo', params: { owner: 'octo', repo: 'repo-1' } },
      output: { fullName: 'octo/repo-1' },
      toolExecutionId: expect.stringMatching(/^tex_/),
    });
    const executions = await rt().tools.executions();
    const toolExecutionId = (repo?.data as { toolExecutionId?: string } | undefined)?.toolExecutionId;
    expect(executions.map((execution) => execution.id)).toContain(toolExecutionId);
    const count = events.find((event) => event.type === 'node.completed' && event.nodeId === 'count');
    expect(count?.data).toMatchObject({ input: { command: 'echo -n "26"' }, output: { stdout: '26', exitCode: 0 } });
  }, 180_000);

  it('cancels the agent run of a node when its workflow run is cancelled', async () => {
    model.script([{ text: 'thinking very slowly about it all', delayMs: 2000 }]);
    await rt().workflows.save({
      name: 'Slow agent',
      graph: {
        nodes: [{ id: 'ask', type: 'agent', config: { agent: 'reviewer', prompt: 'take your time' } }],
        edges: [],
      },
    });
    const run = await rt().workflows.run('slow-agent', {}, { version: 'draft' });
    const child = await until(
      async () => (await rt().workflows.runs.get(run.runId)).nodes[0]?.childRunId ?? null,
      (id) => id !== null,
      'the agent run to start',
    );
    await rt().workflows.runs.cancel(run.runId);
    const agentRun = await until(
      () => rt().agent.get(child as string),
      (state) => !['queued', 'running'].includes(state.status),
      'the agent run to end',
    );
    expect(agentRun.status).toBe('cancelled');
    expect((await rt().workflows.runs.get(run.runId)).nodes[0]?.status).toBe('cancelled');
  }, 60_000);

  it('follows a live run with for await until it ends, and a new version never changes a run in flight', async () => {
    const graph = {
      nodes: [
        { id: 'wait', type: 'approval', config: { message: 'v1' } },
        { id: 'out', type: 'output', config: { expression: '"version one"' } },
      ],
      edges: [{ source: 'wait', target: 'out' }],
    };
    await rt().workflows.save({ name: 'Pinned', graph });
    await rt().workflows.publish('pinned', { visibility: 'org' });
    const run = await rt().workflows.run('pinned', {});
    const seen: string[] = [];
    const following = (async () => {
      for await (const event of rt().workflows.events(run.runId)) seen.push(event.type);
    })();
    const [approval] = await until(
      () => rt().workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    await rt().workflows.save({
      name: 'Pinned',
      graph: {
        ...graph,
        nodes: [
          { id: 'wait', type: 'approval', config: { message: 'v1' } },
          { id: 'out', type: 'output', config: { expression: '"version two"' } },
        ],
      },
    });
    expect((await rt().workflows.publish('pinned', { visibility: 'org' })).version).toBe(2);
    await rt().workflows.approvals.resolve(approval?.id as string, { approved: true });
    await following;
    expect(seen[0]).toBe('run.queued');
    expect(seen.at(-1)).toBe('run.completed');
    expect(seen).toContain('approval.resolved');
    expect((await rt().workflows.runs.get(run.runId)).output).toBe('version one');
    const second = await rt().workflows.run('pinned', {});
    expect(second.version).toBe(2);
    await rt().workflows.runs.cancel(second.runId);
    expect((await rt().workflows.runs.get(second.runId)).status).toBe('cancelled');
  }, 60_000);

  it('keeps an approval wait across a restart of the control plane and resumes from it', async () => {
    await rt().workflows.save({
      name: 'Survives',
      graph: {
        nodes: [
          { id: 'before', type: 'transform', config: { expression: 'input.n * 2' } },
          { id: 'gate', type: 'approval', config: { message: 'n is {{ nodes.before.output }}' } },
          { id: 'after', type: 'output', config: { expression: 'nodes.before.output + 1' } },
        ],
        edges: [
          { source: 'before', target: 'gate' },
          { source: 'gate', target: 'after' },
        ],
      },
    });
    await rt().workflows.publish('survives', { visibility: 'org' });
    const run = await rt().workflows.run('survives', { n: 20 });
    const [approval] = await until(
      () => rt().workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    expect(approval?.message).toBe('n is 40');
    await fixture.restart();
    expect((await rt().workflows.runs.get(run.runId)).status).toBe('waiting');
    await rt().workflows.approvals.resolve(approval?.id as string, { approved: true });
    const done = await until(
      () => rt().workflows.runs.get(run.runId),
      (detail) => detail.status === 'completed',
      'the run to end',
    );
    expect(done.output).toBe(41);
    expect(done.nodes.find((node) => node.nodeId === 'before')?.attempt).toBe(1);
  }, 120_000);

  it('fails a run whose approval is rejected without a branch for it, and refuses approvers outside the set', async () => {
    await rt().workflows.save({
      name: 'Guarded',
      graph: {
        nodes: [
          { id: 'gate', type: 'approval', config: { message: 'ok?', approvers: ['someone@example.com'] } },
          { id: 'out', type: 'output', config: { expression: '1' } },
        ],
        edges: [{ source: 'gate', target: 'out' }],
      },
    });
    const run = await rt().workflows.run('guarded', {}, { version: 'draft' });
    const [approval] = await until(
      () => rt().workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    const refused = await failureOf(rt().workflows.approvals.resolve(approval?.id as string, { approved: true }));
    expect(refused).toMatchObject({ code: 'approver_not_allowed', status: 403 });
    expect((await rt().workflows.approvals.get(approval?.id as string)).status).toBe('pending');
    await rt().workflows.runs.cancel(run.runId);
    expect((await rt().workflows.approvals.get(approval?.id as string)).status).toBe('cancelled');

    await rt().workflows.save({
      name: 'Rejectable',
      graph: {
        nodes: [
          { id: 'gate', type: 'approval', config: { message: 'ok?' } },
          { id: 'out', type: 'output', config: { expression: '1' } },
        ],
        edges: [{ source: 'gate', target: 'out' }],
      },
    });
    const rejected = await rt().workflows.run('rejectable', {}, { version: 'draft' });
    const [second] = await until(
      () => rt().workflows.approvals.list({ runId: rejected.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    await rt().workflows.approvals.resolve(second?.id as string, { approved: false, comment: 'no' });
    const ended = await until(
      () => rt().workflows.runs.get(rejected.runId),
      (detail) => detail.status !== 'waiting' && detail.status !== 'running',
      'the run to end',
    );
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'approval_rejected', nodeId: 'gate' } });
    const again = await failureOf(rt().workflows.approvals.resolve(second?.id as string, { approved: true }));
    expect(again).toMatchObject({ code: 'approval_decided', status: 409 });
  }, 60_000);

  it('answers a save with every problem of the graph and the node it belongs to', async () => {
    const failure = await failureOf(
      rt().workflows.save({
        name: 'Broken',
        graph: {
          nodes: [
            { id: 'a', type: 'transform', config: { expression: '$$$(' } },
            { id: 'b', type: 'agent', config: { agent: 'nobody', prompt: 'x' } },
            { id: 'c', type: 'tool', config: { tool: 'not-installed', action: 'x' } },
            { id: 'd', type: 'wormhole' } as never,
          ],
          edges: [
            { source: 'a', target: 'b' },
            { source: 'b', target: 'a' },
            { source: 'c', target: 'ghost' },
          ],
        },
      }),
    );
    expect(failure).toMatchObject({ code: 'workflow_invalid', status: 422 });
    const problems = (failure.details?.problems ?? []) as { code: string; nodeId?: string }[];
    expect(problems.map((problem) => problem.code).sort()).toEqual(
      expect.arrayContaining(['invalid_expression', 'unknown_node_type', 'missing_node']),
    );
    expect(problems).toContainEqual(expect.objectContaining({ code: 'invalid_expression', nodeId: 'a' }));
    await expect(rt().workflows.get('broken')).rejects.toMatchObject({ code: 'workflow_not_found' });
    const structural = await failureOf(
      rt().workflows.save({
        name: 'Unknowns',
        graph: {
          nodes: [
            { id: 'b', type: 'agent', config: { agent: 'nobody', prompt: 'x' } },
            { id: 'c', type: 'tool', config: { tool: 'not-installed', action: 'x' } },
          ],
          edges: [],
        },
      }),
    );
    expect(structural.details?.problems).toEqual([
      expect.objectContaining({ code: 'unknown_agent', nodeId: 'b' }),
      expect.objectContaining({ code: 'unknown_tool', nodeId: 'c' }),
    ]);
    expect(await failureOf(rt().workflows.run('unknowns', {}))).toMatchObject({ code: 'workflow_not_found' });
  });

  it('retries a failing node by its policy under one idempotency key, and times a slow one out', async () => {
    const box = fixture.track(await rt().sandboxes.create({ runtime: 'container' }));
    await rt().workflows.save({
      name: 'Flaky',
      graph: {
        nodes: [
          {
            id: 'flaky',
            type: 'sandbox',
            config: {
              sandbox: box.id,
              command: 'if [ -f /tmp/flaky ]; then echo ok; else touch /tmp/flaky; exit 3; fi',
            },
            retry: { attempts: 2, backoffSeconds: 0 },
          },
        ],
        edges: [],
      },
    });
    const flaky = await rt().workflows.run('flaky', {}, { version: 'draft' });
    const done = await until(
      () => rt().workflows.runs.get(flaky.runId),
      (detail) => detail.status === 'completed' || detail.status === 'failed',
      'the flaky run',
    );
    expect(done.status).toBe('completed');
    expect(done.nodes[0]).toMatchObject({ attempt: 2, output: { stdout: 'ok\n', exitCode: 0 } });
    const events: WorkflowEvent[] = await rt().workflows.events(flaky.runId);
    const retrying = events.find((event) => event.type === 'node.retrying');
    expect(retrying?.data).toMatchObject({ error: { code: 'command_failed' }, nextAttempt: 2 });
    const starts = events.filter((event) => event.type === 'node.started');
    expect(starts.map((event) => event.attempt)).toEqual([1, 2]);
    expect(new Set(starts.map((event) => (event.data as { idempotencyKey: string }).idempotencyKey)).size).toBe(1);

    await rt().workflows.save({
      name: 'Slow',
      graph: {
        nodes: [{ id: 'slow', type: 'sandbox', config: { sandbox: box.id, command: 'sleep 30' }, timeoutSeconds: 1 }],
        edges: [],
      },
    });
    const slow = await rt().workflows.run('slow', {}, { version: 'draft' });
    const ended = await until(
      () => rt().workflows.runs.get(slow.runId),
      (detail) => detail.status !== 'queued' && detail.status !== 'running',
      'the slow run',
    );
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'node_timed_out', nodeId: 'slow' } });
    expect(ended.nodes[0]?.status).toBe('timed_out');
  }, 120_000);

  it("runs a trigger's graph published by someone else with no more than the publisher's rights", async () => {
    const writer = await addMember(fixture.server, 'writer@workflows.example', 'member');
    const narrow = await fixture.server.request('POST', '/v1/auth/keys', {
      key: writer.apiKey.key,
      body: { name: 'workflows only', scopes: ['workflows:*'] },
    });
    const narrowKey = ((await narrow.json()) as { key: string }).key;
    const asWriter = new RunTools({ apiKey: narrowKey, baseUrl: fixture.server.url });
    await rt().workflows.save({
      name: 'Borrowed',
      graph: { nodes: [{ id: 'out', type: 'output', config: { expression: '"harmless"' } }], edges: [] },
    });
    await rt().workflows.publish('borrowed', { visibility: 'org' });
    const trigger = await rt().workflows.triggers.create('borrowed', { kind: 'webhook' });
    // The writer (workflows:* only) publishes a graph that runs a command: the trigger is the admin's.
    await asWriter.workflows.save({
      name: 'Borrowed',
      graph: { nodes: [{ id: 'steal', type: 'sandbox', config: { command: 'echo stolen' } }], edges: [] },
    });
    await asWriter.workflows.publish('borrowed', { visibility: 'org' });
    const body = '{}';
    const delivery = await fetch(trigger.url as string, {
      method: 'POST',
      headers: { 'x-runtools-signature': signWebhook(trigger.secret as string, body, Math.floor(Date.now() / 1000)) },
      body,
    });
    expect(delivery.status).toBe(200);
    const { runId } = (await delivery.json()) as { runId: string };
    const ended = await until(
      () => rt().workflows.runs.get(runId),
      (detail) => detail.status === 'completed' || detail.status === 'failed',
      'the borrowed run',
    );
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'insufficient_scope', nodeId: 'steal' } });
  }, 60_000);

  it('checks a run input against its schema: ids never collide, regular expressions and bad references refused at save', async () => {
    const schema = {
      $id: 'urn:runtools:test-input',
      type: 'object',
      properties: { s: { type: 'string', minLength: 2 } },
      required: ['s'],
    };
    const graph = { nodes: [{ id: 'out', type: 'output', config: { expression: 'input.s' } }], edges: [] };
    await rt().workflows.save({ name: 'Typed one', graph, inputSchema: schema });
    await rt().workflows.save({ name: 'Typed two', graph, inputSchema: schema });
    for (const slug of ['typed-one', 'typed-two', 'typed-one'])
      expect((await rt().workflows.run(slug, { s: 'aaa' }, { version: 'draft' })).status).toBe('queued');
    const short = await failureOf(rt().workflows.run('typed-two', { s: 'a' }, { version: 'draft' }));
    expect(short).toMatchObject({ code: 'workflow_input_invalid', status: 400 });
    for (const inputSchema of [
      { properties: { s: { type: 'string', pattern: '^(a+)+$' } } },
      { patternProperties: { '^(a+)+$': { type: 'string' } } },
      { $ref: 'https://schemas.example/x.json' },
    ]) {
      const refused = await failureOf(rt().workflows.save({ name: 'Typed three', graph, inputSchema }));
      expect(refused).toMatchObject({ code: 'validation_failed', status: 400 });
    }
  });

  it('ends an approval node whose decision was stored by a process that stopped before ending it', async () => {
    await rt().workflows.save({
      name: 'Half decided',
      graph: {
        nodes: [
          { id: 'gate', type: 'approval', config: { message: 'ok?' } },
          { id: 'out', type: 'output', config: { expression: 'nodes.gate.output.approved' } },
        ],
        edges: [{ source: 'gate', target: 'out' }],
      },
    });
    const run = await rt().workflows.run('half-decided', {}, { version: 'draft' });
    const [approval] = await until(
      () => rt().workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    // What a resolve wrote before its process died: the decision, and nothing after it.
    await fixture.server.running.db.kysely
      .updateTable('workflow_approvals')
      .set({ status: 'approved', decided_by: 'mem_test', decided_at: new Date().toISOString(), comment: 'yes' })
      .where('id', '=', approval?.id as string)
      .execute();
    const done = await until(
      () => rt().workflows.runs.get(run.runId),
      (detail) => detail.status === 'completed' || detail.status === 'failed',
      'the sweep to end the node',
    );
    expect(done).toMatchObject({ status: 'completed', output: true });
  }, 60_000);

  it('destroys the sandbox an earlier attempt of a node left before the next attempt makes its own', async () => {
    await rt().workflows.save({
      name: 'Leftover',
      graph: {
        nodes: [
          { id: 'gate', type: 'approval', config: { message: 'go?' } },
          { id: 'make', type: 'sandbox', config: { command: 'exit 1' }, retry: { attempts: 2, backoffSeconds: 0 } },
        ],
        edges: [{ source: 'gate', target: 'make' }],
      },
    });
    const run = await rt().workflows.run('leftover', {}, { version: 'draft' });
    const [approval] = await until(
      () => rt().workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval',
    );
    // What a process that stopped during the node's first attempt would have left.
    const leftover = fixture.track(
      await rt().sandboxes.create({
        runtime: 'container',
        metadata: { workflowRun: run.runId, node: 'make', idempotencyKey: `${run.runId}:make:0` },
      }),
    );
    await rt().workflows.approvals.resolve(approval?.id as string, { approved: true });
    const ended = await until(
      () => rt().workflows.runs.get(run.runId),
      (detail) => detail.status === 'failed' || detail.status === 'completed',
      'the node to fail twice',
    );
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'command_failed', nodeId: 'make' } });
    expect((await rt().sandboxes.get(leftover.id)).status).toBe('destroyed');
  }, 120_000);

  it('starts runs from a signed webhook and refuses unsigned, stale and replayed deliveries', async () => {
    await rt().workflows.save({
      name: 'Hooked',
      graph: { nodes: [{ id: 'out', type: 'output', config: { expression: 'trigger.body.action' } }], edges: [] },
    });
    await rt().workflows.publish('hooked', { visibility: 'org' });
    const trigger = await rt().workflows.triggers.create('hooked', { kind: 'webhook' });
    expect(trigger.url).toMatch(/\/v1\/hooks\/wh_/);
    expect(trigger.secret).toMatch(/^whsec_/);
    const url = trigger.url as string;
    const body = JSON.stringify({ action: 'opened' });
    const now = Math.floor(Date.now() / 1000);
    const post = (headers: Record<string, string>, payload = body) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
    const signed = await post({
      'x-runtools-signature': signWebhook(trigger.secret as string, body, now),
      'x-runtools-delivery': 'd-1',
    });
    expect(signed.status).toBe(200);
    const accepted = (await signed.json()) as { runId: string };
    const done = await until(
      () => rt().workflows.runs.get(accepted.runId),
      (detail) => detail.status === 'completed',
      'the webhook run',
    );
    expect(done).toMatchObject({ output: 'opened', trigger: { kind: 'webhook', triggerId: trigger.id } });
    const replay = await post({
      'x-runtools-signature': signWebhook(trigger.secret as string, body, now),
      'x-runtools-delivery': 'd-1',
    });
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('webhook_replayed');
    // The delivery id is not signed: the same signed delivery under a new id is a replay all the same.
    const renamed = await post({
      'x-runtools-signature': signWebhook(trigger.secret as string, body, now),
      'x-runtools-delivery': 'd-1-again',
    });
    expect(renamed.status).toBe(409);
    for (const headers of [
      {} as Record<string, string>,
      { 'x-runtools-signature': signWebhook('whsec_wrong', body, now) },
      { 'x-runtools-signature': signWebhook(trigger.secret as string, body, now - 3600) },
      { 'x-runtools-signature': 't=abc,v1=zz' },
    ]) {
      const refused = await post({ ...headers, 'x-runtools-delivery': `r-${Math.random()}` });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('webhook_signature_invalid');
    }
    const tampered = await post(
      { 'x-runtools-signature': signWebhook(trigger.secret as string, body, now), 'x-runtools-delivery': 'd-2' },
      JSON.stringify({ action: 'deleted' }),
    );
    expect(tampered.status).toBe(401);
    const runs = await rt().workflows.runs.list({ workflow: 'hooked' });
    expect(runs.map((entry) => entry.runId)).toEqual([accepted.runId]);
    const unknown = await fetch(url.replace(/wh_.*/, 'wh_nosuchtokennosuchtokennosuchtoken'), { method: 'POST', body });
    expect(unknown.status).toBe(404);
    // Whoever knows the URL cannot fill the delivery log: every refusal is answered, at most 60 a minute logged.
    const flood = await Promise.all(
      Array.from({ length: 200 }, () =>
        post({ 'x-runtools-signature': 't=1,v1=00' }).then((response) => response.status),
      ),
    );
    expect(new Set(flood)).toEqual(new Set([401]));
    const logged = await fixture.server.running.db.kysely
      .selectFrom('workflow_deliveries')
      .select(({ fn }) => fn.countAll<number>().as('count'))
      .where('trigger_id', '=', trigger.id)
      .where('status', '=', 'refused')
      .executeTakeFirstOrThrow();
    // The four refusals above and the flood's first ones (a minute boundary may start a new count once).
    expect(Number(logged.count)).toBeLessThanOrEqual(2 * 60);
    expect(Number(logged.count)).toBeGreaterThanOrEqual(60);
  });

  it('fires a cron trigger on its schedule, once per fire time', async () => {
    await rt().workflows.save({
      name: 'Ticking',
      graph: { nodes: [{ id: 'out', type: 'output', config: { expression: 'trigger.scheduledAt' } }], edges: [] },
    });
    await rt().workflows.publish('ticking', { visibility: 'org' });
    const trigger = await rt().workflows.triggers.create('ticking', { kind: 'cron', schedule: '*/2 * * * * *' });
    expect(trigger.nextFireAt).not.toBeNull();
    const runs = await until(
      () => rt().workflows.runs.list({ workflow: 'ticking' }),
      (list) => list.length >= 2,
      'two cron fires',
    );
    await rt().workflows.triggers.delete('ticking', trigger.id);
    const fireTimes = await Promise.all(
      runs.map(
        async (entry) =>
          (
            await until(
              () => rt().workflows.runs.get(entry.runId),
              (detail) => detail.status === 'completed',
              'a cron run',
            )
          ).output,
      ),
    );
    expect(new Set(fireTimes).size).toBe(fireTimes.length);
    for (const fireTime of fireTimes) expect(Date.parse(fireTime as string) % 2000).toBe(0);
  }, 60_000);
});

/**
 * A delay of days, and an approval's timeout, on a clock the test moves: the waits hold nothing but rows, and
 * end when the (injected) time comes, across a restart.
 */
describe('workflow waits on an injected clock', () => {
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  let server: TestServer;
  let rt: RunTools;

  beforeAll(async () => {
    server = await startTestServer({ RUNTOOLS_QUEUE_LEASE_MS: '2000' }, { clock });
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('ends a delay of three days when the clock gets there, after a restart, and times out an approval', async () => {
    await rt.workflows.save({
      name: 'Patient',
      graph: {
        nodes: [
          { id: 'wait', type: 'delay', config: { seconds: 3 * 24 * 3600 } },
          {
            id: 'gate',
            type: 'approval',
            config: { message: 'still there?', timeoutSeconds: 3600, onTimeout: 'reject' },
          },
          { id: 'yes', type: 'output', config: { expression: '"approved"' } },
          { id: 'no', type: 'transform', config: { expression: 'nodes.gate.output.approved' } },
        ],
        edges: [
          { source: 'wait', target: 'gate' },
          { source: 'gate', target: 'yes', condition: true },
          { source: 'gate', target: 'no', condition: false },
        ],
      },
    });
    const run = await rt.workflows.run('patient', {}, { version: 'draft' });
    await until(
      () => rt.workflows.runs.get(run.runId),
      (detail) => detail.status === 'waiting',
      'the delay',
    );
    await server.restart();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    // A day later: still waiting.
    offset += 24 * 3600 * 1000;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await rt.workflows.runs.get(run.runId)).nodes.find((node) => node.nodeId === 'wait')?.status).toBe(
      'waiting',
    );
    offset += 2 * 24 * 3600 * 1000 + 1000;
    const [approval] = await until(
      () => rt.workflows.approvals.list({ runId: run.runId, status: 'pending' }),
      (list) => list.length === 1,
      'the approval after the delay',
    );
    expect(approval?.expiresAt).not.toBeNull();
    offset += 3600 * 1000 + 1000;
    const ended = await until(
      () => rt.workflows.runs.get(run.runId),
      (detail) => detail.status === 'completed' || detail.status === 'failed',
      'the approval to time out',
    );
    expect(ended.status).toBe('completed');
    expect(ended.nodes.find((node) => node.nodeId === 'yes')?.status).toBe('skipped');
    expect(ended.nodes.find((node) => node.nodeId === 'no')).toMatchObject({ status: 'completed', output: false });
    expect((await rt.workflows.approvals.get(approval?.id as string)).status).toBe('timed_out');
    const waited = ended.nodes.find((node) => node.nodeId === 'wait')?.output as { waitedMs: number };
    expect(waited.waitedMs).toBeGreaterThanOrEqual(3 * 24 * 3600 * 1000);
  }, 60_000);
});
