import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools, type WorkflowEvent, type WorkflowRunDetail } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type StartedCli, startCli } from '../../../test/support/cli.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';

/**
 * A pull request's review: its size is worked out (transform), a short pause (delay), big ones wait for an
 * approval (condition → approval) and everything ends in one output. A rejection has no edge to take, so it
 * fails the run.
 */
const reviewGraph = {
  nodes: [
    {
      id: 'shape',
      type: 'transform',
      config: { expression: '{ "title": input.title, "lines": input.lines, "big": input.lines > 100 }' },
    },
    { id: 'pause', type: 'delay', config: { seconds: 1 } },
    { id: 'big', type: 'condition', config: { expression: 'nodes.shape.output.big' } },
    {
      id: 'review',
      type: 'approval',
      config: { message: 'Merge "{{ nodes.shape.output.title }}" ({{ nodes.shape.output.lines }} lines)?' },
    },
    {
      id: 'done',
      type: 'output',
      config: { expression: '{ "merged": nodes.shape.output.title, "lines": nodes.shape.output.lines }' },
    },
  ],
  edges: [
    { source: 'shape', target: 'pause' },
    { source: 'pause', target: 'big' },
    { source: 'big', target: 'review', condition: true },
    { source: 'big', target: 'done', condition: false },
    { source: 'review', target: 'done', condition: true },
  ],
};

/** A workflow as a project writes it: a TypeScript file calling defineWorkflow. */
const deployedFlow = (greeting: string) => `import { defineWorkflow } from '@runtools/sdk';
export default defineWorkflow({
  name: 'Deployed Flow',
  description: 'Greets',
  graph: {
    nodes: [
      { id: 'greet', type: 'transform', config: { expression: '"${greeting}, " & input.name' } },
      { id: 'out', type: 'output', config: { expression: '{ "text": nodes.greet.output }' } },
    ],
    edges: [{ source: 'greet', target: 'out' }],
  },
});
`;

const approvalIdIn = (text: string) => text.match(/approval\.requested\s+\S+\s+\S+\s+(apv_[a-z2-7]{20})/)?.[1];

/** Waits until a running CLI has printed what `pattern` matches on stdout, and answers the match. */
async function printed(started: StartedCli, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = started.stdout().match(pattern);
    if (match) return match;
    if (started.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`never printed ${pattern}:\n${started.stdout()}\n${started.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('runtools workflow and deploy of workflows/*.ts against a running server', () => {
  let server: TestServer;
  let rt: RunTools;
  let configDir: string;
  const options = () => ({
    configDir,
    env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
  });
  const cli = (...args: string[]) => runCli(args, options());
  const start = (...args: string[]) => startCli(args, options());

  beforeAll(async () => {
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-workflows-'));
    writeFileSync(join(configDir, 'review.json'), JSON.stringify({ name: 'Review PR', graph: reviewGraph }));
  });
  afterAll(async () => {
    await server?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it('saves a graph from a JSON file, checks it here and on the server, lists, gets and publishes it', async () => {
    const validated = await cli('workflow', 'validate', 'review.json');
    expect([validated.code, validated.stdout]).toEqual([0, 'review.json: valid\n']);

    const saved = await cli('workflow', 'save', 'review.json');
    expect([saved.code, saved.stdout]).toEqual([0, 'saved review-pr draft r1 (not published yet)\n']);

    // Refused here, before anything is sent: every problem with its node.
    writeFileSync(
      join(configDir, 'broken.json'),
      JSON.stringify({
        name: 'Broken',
        graph: {
          nodes: [
            { id: 'a', type: 'transform', config: {} },
            { id: 'b', type: 'teleport' },
          ],
          edges: [{ source: 'a', target: 'ghost' }],
        },
      }),
    );
    const broken = await cli('workflow', 'save', 'broken.json');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(
      /^problem: node a config\.expression: .+\nproblem: node b: unknown node type "teleport"/,
    );
    expect(broken.stderr).toContain('problem: edge 0: edge target ghost is not a node of the graph\n');
    expect(broken.stderr).toContain('error: broken.json not saved: the graph has 3 problems\n');
    // Well formed, but refused by the server: an expression that does not parse.
    writeFileSync(
      join(configDir, 'bad-expression.json'),
      JSON.stringify({
        name: 'Bad Expression',
        graph: { nodes: [{ id: 'out', type: 'output', config: { expression: '{ "a": ' } }] },
      }),
    );
    const refused = await cli('workflow', 'save', 'bad-expression.json');
    expect([refused.code, refused.stderr]).toEqual([
      2,
      expect.stringMatching(/^problem: node out config\.expression: /),
    ]);
    const invalid = await cli('workflow', 'validate', 'bad-expression.json');
    expect(invalid.code).toBe(2);
    expect(invalid.stdout).toMatch(/^node out config\.expression: /);
    expect((await cli('workflow', 'save', 'missing.json')).code).toBe(2);
    expect((await rt.workflows.list()).map((workflow) => workflow.slug)).toEqual(['review-pr']);

    const list = await cli('workflow', 'list');
    expect(list.stdout).toMatch(
      /^SLUG\s+NAME\s+DRAFT\s+LATEST\s+VISIBILITY\s+UPDATED\nreview-pr\s+Review PR\s+r1\s+-\s+-\s+/,
    );
    const got = await cli('workflow', 'get', 'review-pr');
    expect(got.stdout).toContain('latest version: not published');
    expect(got.stdout).toMatch(
      /nodes:\s+shape \(transform\),pause \(delay\),big \(condition\),review \(approval\),done \(output\)/,
    );
    expect(JSON.parse((await cli('workflow', 'get', 'review-pr', '--json')).stdout)).toMatchObject({
      slug: 'review-pr',
      draftRevision: 1,
      graph: { nodes: expect.arrayContaining([expect.objectContaining({ id: 'review', type: 'approval' })]) },
    });

    const unpublished = await cli('workflow', 'run', 'review-pr');
    expect(unpublished.code).toBe(6);

    const badVisibility = await cli('workflow', 'publish', 'review-pr', '--visibility', 'public');
    expect([badVisibility.code, badVisibility.stderr]).toEqual([2, expect.stringContaining('--visibility must be')]);
    const published = await cli('workflow', 'publish', 'review-pr', '--note', 'first cut');
    expect([published.code, published.stdout]).toEqual([0, 'published review-pr v1 (org)\n']);
    const versions = await cli('workflow', 'versions', 'review-pr');
    expect(versions.stdout).toMatch(/^VERSION\s+VISIBILITY\s+NOTE\s+PUBLISHED BY\s+CREATED\nv1\s+org\s+first cut\s+/);
    expect((await cli('workflow', 'get', 'nope')).code).toBe(5);
  });

  it('runs with an input, follows the events until the approval, approves, and the run completes with its output', async () => {
    const started = await cli('workflow', 'run', 'review-pr', '--input', '{"title":"Add caching","lines":250}');
    expect(started.code).toBe(0);
    const runId = started.stdout.trim();
    expect(runId).toMatch(/^wfr_[a-z2-7]{20}$/);
    expect(started.stderr).toContain(`follow it: runtools workflow events ${runId} -f`);

    const follow = start('workflow', 'events', runId, '-f');
    const [line] = await printed(follow, /.*approval\.requested.*\n/);
    const approvalId = approvalIdIn(line);
    expect(approvalId).toBeDefined();
    expect(line).toContain('"Merge "Add caching" (250 lines)?"');
    expect(follow.stdout()).toMatch(
      /^\s+1\s+\d\d:\d\d:\d\d\.\d{3}\s+run\.queued\s+-\s+-\s+v1 manual input \{"title":"Add caching","lines":250\}\n/,
    );
    expect(follow.stdout()).toMatch(
      /node\.completed\s+shape\s+#1\s+→ \{"title":"Add caching","lines":250,"big":true\}/,
    );

    const approvals = await cli('workflow', 'approvals');
    expect(approvals.stdout).toMatch(
      new RegExp(
        `^ID\\s+RUN\\s+WORKFLOW\\s+NODE\\s+STATUS\\s+MESSAGE\\s+EXPIRES\\s+CREATED\\n${approvalId}\\s+${runId}\\s+review-pr\\s+review\\s+pending\\s+`,
      ),
    );
    expect(JSON.parse((await cli('workflow', 'approvals', '--json', '--run', runId)).stdout)).toEqual([
      expect.objectContaining({
        id: approvalId,
        runId,
        status: 'pending',
        message: 'Merge "Add caching" (250 lines)?',
      }),
    ]);
    const waiting = await cli('workflow', 'status', runId);
    expect(waiting.stdout).toMatch(/status:\s+waiting/);
    expect(waiting.stdout).toContain(`${approvalId} pending: Merge "Add caching" (250 lines)?`);
    expect(waiting.stdout).toMatch(/review\s+approval\s+waiting/);

    const approved = await cli('workflow', 'approve', approvalId as string, '--comment', 'lgtm');
    expect([approved.code, approved.stdout]).toEqual([0, `approved ${approvalId} (run ${runId}, node review)\n`]);
    const followed = await follow.result;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/approval\.resolved\s+review\s+-\s+approved by \S+ "lgtm"/);
    expect(followed.stdout).toMatch(/run\.completed\s+-\s+-\s+output \{"merged":"Add caching","lines":250\}\n$/);
    const again = await cli('workflow', 'approve', approvalId as string);
    expect(again.code).not.toBe(0);

    const detail = JSON.parse((await cli('workflow', 'run-get', runId, '--json')).stdout) as WorkflowRunDetail;
    expect(detail).toMatchObject({ status: 'completed', output: { merged: 'Add caching', lines: 250 }, version: 1 });
    expect(detail.nodes.map((node) => [node.nodeId, node.status])).toEqual(
      expect.arrayContaining([
        ['shape', 'completed'],
        ['review', 'completed'],
        ['done', 'completed'],
      ]),
    );

    // The events so far, without -f, as lines and as JSON lines.
    const stored = await cli('workflow', 'events', runId);
    expect(stored.code).toBe(0);
    expect(stored.stdout).toBe(followed.stdout);
    const events = (await cli('workflow', 'events', runId, '--json')).stdout
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as WorkflowEvent);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.at(-1)?.type).toBe('run.completed');
    const after = await cli('workflow', 'events', runId, '--after', String(events.length - 1), '--json');
    expect(after.stdout.trim().split('\n')).toHaveLength(1);

    // A small change takes the condition's false edge: no approval; --wait prints the output.
    const small = await cli('workflow', 'run', 'review-pr', '--input', '{"title":"Fix typo","lines":3}', '--wait');
    expect([small.code, small.stdout]).toEqual([0, '{\n  "merged": "Fix typo",\n  "lines": 3\n}\n']);
    expect(small.stderr).toMatch(/completed · review-pr v1 · run wfr_/);
  });

  it('follows a run with run -f, and a rejection fails it', async () => {
    writeFileSync(join(configDir, 'pr.json'), '{"title":"Rewrite everything","lines":5000}');
    const run = start('workflow', 'run', 'review-pr', '-f', '--input-file', 'pr.json');
    const badFile = await cli('workflow', 'run', 'review-pr', '--input-file', 'nope.json');
    expect([badFile.code, badFile.stderr]).toEqual([2, expect.stringContaining('cannot read nope.json')]);
    const [line] = await printed(run, /.*approval\.requested.*\n/);
    const approvalId = approvalIdIn(line) as string;
    const runId = run.stderr().match(/^run (wfr_[a-z2-7]{20}) \(review-pr v1\)\n/)?.[1] as string;
    expect(runId).toBeDefined();
    const rejected = await cli('workflow', 'reject', approvalId, '--comment', 'too big');
    expect([rejected.code, rejected.stdout]).toEqual([0, `rejected ${approvalId} (run ${runId}, node review)\n`]);
    const ended = await run.result;
    expect(ended.code).toBe(1);
    expect(ended.stdout).toMatch(/approval\.resolved\s+review\s+-\s+rejected by \S+ "too big"/);
    expect(ended.stdout).toMatch(/run\.failed\s+-\s+-\s+\S+: .+\n$/);
    const status = await cli('workflow', 'status', runId);
    expect(status.stdout).toMatch(/status:\s+failed/);
    expect(status.stdout).toMatch(/error:\s+\S+: /);

    // A run waiting for its approval, cancelled.
    const waiting = await rt.workflows.run('review-pr', { title: 'Cancel me', lines: 900 });
    // Waiting first on its delay, then on its approval.
    await expect
      .poll(async () => (await rt.workflows.approvals.list({ runId: waiting.runId })).length, { timeout: 30_000 })
      .toBe(1);
    const cancelled = await cli('workflow', 'cancel', waiting.runId);
    expect([cancelled.code, cancelled.stdout]).toEqual([0, `${waiting.runId} cancelled\n`]);
    const runs = await cli('workflow', 'runs', '--workflow', 'review-pr', '--status', 'cancelled');
    expect(runs.stdout).toMatch(
      new RegExp(
        `^RUN\\s+WORKFLOW\\s+STATUS\\s+TRIGGER\\s+CREATED\\s+FINISHED\\n${waiting.runId}\\s+review-pr v1\\s+cancelled\\s+manual\\s+`,
      ),
    );
    expect(runs.stdout.trim().split('\n')).toHaveLength(2);
    const all = JSON.parse((await cli('workflow', 'runs', '--json')).stdout) as { status: string }[];
    expect(all.map((item) => item.status).sort()).toEqual(['cancelled', 'completed', 'completed', 'failed']);
    expect((await cli('workflow', 'runs', '--status', 'done')).code).toBe(2);
    expect(
      JSON.parse((await cli('workflow', 'approvals', '--status', 'all', '--json')).stdout).map(
        (approval: { status: string }) => approval.status,
      ),
    ).toEqual(['cancelled', 'rejected', 'approved']);
  });

  it('creates cron and webhook triggers, lists and deletes them; a signed delivery to the printed URL starts a run', async () => {
    const neither = await cli('workflow', 'trigger', 'create', 'review-pr');
    expect([neither.code, neither.stderr]).toEqual([2, 'error: give --cron EXPR or --webhook\n']);
    const cron = await cli(
      'workflow',
      'trigger',
      'create',
      'review-pr',
      '--cron',
      '0 9 * * 1-5',
      '--timezone',
      'Europe/Paris',
      '--input',
      '{"title":"nightly","lines":1}',
    );
    expect(cron.code).toBe(0);
    expect(cron.stdout).toMatch(
      /^created cron trigger trg_[a-z2-7]{20} for review-pr: "0 9 \* \* 1-5" \(Europe\/Paris\), next at \d{4}-\d\d-\d\dT/,
    );
    const webhook = await cli(
      'workflow',
      'trigger',
      'create',
      'review-pr',
      '--webhook',
      '--input',
      '{"title":"hook","lines":2}',
    );
    expect(webhook.code).toBe(0);
    expect(webhook.stderr).toContain('shown only this once');
    const url = webhook.stdout.match(/^url:\s+(\S+)$/m)?.[1] as string;
    const secret = webhook.stdout.match(/^secret:\s+(\S+)$/m)?.[1] as string;
    expect(url).toMatch(/\/v1\/hooks\/\S+$/);
    expect(secret).toBeTruthy();

    const body = JSON.stringify({ action: 'opened', number: 7 });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    const delivered = await fetch(url.replace(/^https?:\/\/[^/]+/, server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-runtools-signature': `t=${timestamp},v1=${signature}`,
        'x-runtools-delivery': randomUUID(),
      },
      body,
    });
    expect(delivered.status).toBe(200);
    const { runId } = (await delivered.json()) as { runId: string };
    expect((await rt.workflows.waitForRun(runId)).output).toEqual({ merged: 'hook', lines: 2 });
    const status = await cli('workflow', 'status', runId);
    expect(status.stdout).toMatch(/trigger:\s+webhook trg_/);

    const listed = await cli('workflow', 'trigger', 'list', 'review-pr');
    expect(listed.stdout).toMatch(/^ID\s+KIND\s+SCHEDULE\s+VERSION\s+NEXT\s+LAST FIRED\s+ENABLED\n/);
    expect(listed.stdout).toMatch(/trg_\w+\s+cron\s+0 9 \* \* 1-5 \(Europe\/Paris\)\s+latest\s+\d{4}-/);
    expect(listed.stdout).toMatch(/trg_\w+\s+webhook\s+-\s+latest\s+/);
    const json = JSON.parse((await cli('workflow', 'trigger', 'list', 'review-pr', '--json')).stdout) as {
      id: string;
      kind: string;
      secret: string | null;
    }[];
    expect(json.map((trigger) => trigger.kind).sort()).toEqual(['cron', 'webhook']);
    expect(JSON.stringify(json)).not.toContain(secret);
    const cronId = json.find((trigger) => trigger.kind === 'cron')?.id as string;
    const deleted = await cli('workflow', 'trigger', 'delete', 'review-pr', cronId);
    expect([deleted.code, deleted.stdout]).toEqual([0, `deleted ${cronId}\n`]);
    const left = JSON.parse((await cli('workflow', 'trigger', 'list', 'review-pr', '--json')).stdout) as {
      kind: string;
    }[];
    expect(left.map((trigger) => trigger.kind)).toEqual(['webhook']);
    expect((await cli('workflow', 'trigger', 'delete', 'review-pr', cronId)).code).toBe(5);
  });

  it('deploys workflows/*.ts as drafts, publishes changed ones with --publish, and saves a .ts file', async () => {
    const project = join(configDir, 'project');
    mkdirSync(join(project, 'workflows'), { recursive: true });
    writeFileSync(join(project, 'workflows', 'flow.ts'), deployedFlow('Hello'));

    const plan = await cli('deploy', project, '--dry-run');
    expect([plan.code, plan.stdout]).toEqual([0, 'create     workflow deployed-flow\n']);
    const first = await cli('deploy', project);
    expect([first.code, first.stdout]).toEqual([0, 'created    workflow deployed-flow  draft r1\n']);
    expect(first.stderr).toContain('deploying workflow deployed-flow');
    const again = await cli('deploy', project);
    expect(again.stdout).toBe('unchanged  workflow deployed-flow  draft r1\n');
    const publishPlan = await cli('deploy', project, '--publish', '--dry-run');
    expect(publishPlan.stdout).toBe('unchanged  workflow deployed-flow\npublish    workflow deployed-flow\n');
    const published = await cli('deploy', project, '--publish');
    expect(published.stdout).toBe(
      'unchanged  workflow deployed-flow  draft r1\npublished  workflow deployed-flow  v1\n',
    );
    expect((await cli('deploy', project, '--publish')).stdout).toBe('unchanged  workflow deployed-flow  draft r1\n');

    writeFileSync(join(project, 'workflows', 'flow.ts'), deployedFlow('Bonjour'));
    const changed = await cli('deploy', project, '--publish', '--json');
    expect(JSON.parse(changed.stdout)).toEqual([
      { kind: 'workflow', name: 'deployed-flow', file: 'workflows/flow.ts', action: 'updated', revision: 2 },
      {
        kind: 'workflow',
        name: 'deployed-flow',
        file: 'workflows/flow.ts',
        action: 'published',
        version: 2,
        note: 'after v1',
      },
    ]);
    const ran = await cli('workflow', 'run', 'deployed-flow', '--input', '{"name":"Ada"}', '--wait', '--json');
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: 'completed', version: 2, output: { text: 'Bonjour, Ada' } });

    // A graph that is wrong stops the whole deploy, naming the file and the node.
    writeFileSync(
      join(project, 'workflows', 'broken.ts'),
      `import { defineWorkflow } from '@runtools/sdk';\nexport default defineWorkflow({ name: 'Broken', graph: { nodes: [{ id: 'x', type: 'output', config: {} }] } } as never);\n`,
    );
    const broken = await cli('deploy', project);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(
      /^error: workflows\/broken\.ts: invalid workflow definition: the graph has 1 problem: node x config\.expression: /,
    );
    expect(broken.stderr).toContain('nothing was deployed');
    rmSync(join(project, 'workflows', 'broken.ts'));

    // `workflow save` takes the same file; the draft runs with --version draft.
    writeFileSync(join(project, 'workflows', 'flow.ts'), deployedFlow('Hi'));
    const saved = await cli('workflow', 'save', join(project, 'workflows', 'flow.ts'));
    expect([saved.code, saved.stdout]).toEqual([0, 'saved deployed-flow draft r3 (latest published: v2)\n']);
    const draft = await cli(
      'workflow',
      'run',
      'deployed-flow',
      '--version',
      'draft',
      '--input',
      '{"name":"Bo"}',
      '--wait',
    );
    expect([draft.code, draft.stdout]).toEqual([0, '{\n  "text": "Hi, Bo"\n}\n']);
    expect((await cli('workflow', 'run', 'deployed-flow', '--version', 'newest')).code).toBe(2);

    const removed = await cli('workflow', 'delete', 'deployed-flow');
    expect([removed.code, removed.stdout]).toEqual([0, 'deleted deployed-flow\n']);
    expect((await cli('workflow', 'get', 'deployed-flow')).code).toBe(5);
  });
});
