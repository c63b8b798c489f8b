import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunEvent, RunTools, type Sandbox } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../../../test/support/cli.js';
import { type ModelServer, startModelServer } from '../../../test/support/model-server.js';
import { testBaseRootfs } from '../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';

const ndjson = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RunEvent);

type Message = { role: string; content: unknown };

/** The messages of a request the model server recorded. */
const sentMessages = (request: { body: Record<string, unknown> } | undefined): Message[] =>
  (request?.body.messages as Message[] | undefined) ?? [];

describe('runtools agent, thread, provider, models and deploy against a running server', () => {
  let server: TestServer;
  let model: ModelServer;
  let rt: RunTools;
  let box: Sandbox;
  let configDir: string;
  const cli = (args: string[]) =>
    runCli(args, { configDir, env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey } });

  beforeAll(async () => {
    await testBaseRootfs();
    model = await startModelServer();
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    box = await rt.sandboxes.create({ runtime: 'container' });
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-agents-'));
  }, 15 * 60_000);
  afterAll(async () => {
    await box?.destroy().catch(() => {});
    await server?.close();
    await model?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  }, 120_000);

  it('registers a provider and shows it in the model table', async () => {
    const added = await cli([
      'provider',
      'add',
      'mock',
      '--type',
      'openai-compatible',
      '--base-url',
      model.openaiBaseUrl,
    ]);
    expect([added.code, added.stdout]).toEqual([0, expect.stringContaining('added mock (openai-compatible')]);
    const badType = await cli(['provider', 'add', 'other', '--type', 'gemini', '--base-url', model.openaiBaseUrl]);
    expect([badType.code, badType.stderr]).toEqual([2, expect.stringContaining('--type must be one of')]);
    const again = await cli(['provider', 'add', 'mock', '--type', 'openai', '--base-url', model.openaiBaseUrl]);
    expect([again.code, again.stderr]).toEqual([6, expect.stringContaining('a provider named mock exists')]);
    const list = JSON.parse((await cli(['provider', 'list', '--json'])).stdout) as { name: string; baseUrl: string }[];
    expect(list).toEqual([expect.objectContaining({ name: 'mock', baseUrl: model.openaiBaseUrl })]);
    expect((await cli(['provider', 'list'])).stdout).toMatch(
      /mock\s+openai-compatible\s+http:\/\/127\.0\.0\.1:\d+\/v1/,
    );
    const models = await cli(['models']);
    expect(models.code).toBe(0);
    expect(models.stdout).toMatch(/^ALIAS\s+PROVIDER\s+MODEL ID\s+SECRET\n/);
    expect(models.stdout).toMatch(/claude-sonnet-4\s+anthropic\s+claude-sonnet-4-0\s+ANTHROPIC_API_KEY/);
    expect(models.stdout).toMatch(/-\s+mock\s+\*\s+-/);
    const json = JSON.parse((await cli(['models', '--json'])).stdout) as { provider: string }[];
    expect(json.map((row) => row.provider)).toContain('mock');
  });

  it('creates, lists, gets, updates and versions agents, and shows the server refusing bad ones', async () => {
    const unknownTool = await cli([
      'agent',
      'create',
      'bad',
      '--model',
      'mock/m',
      '--sandbox',
      box.id,
      '--tools',
      'bash,teleport',
    ]);
    expect([unknownTool.code, unknownTool.stderr]).toEqual([2, expect.stringMatching(/error: unknown tool teleport/)]);
    const tooMany = await cli([
      'agent',
      'create',
      'bad',
      '--model',
      'mock/m',
      '--sandbox',
      box.id,
      '--max-iterations',
      '101',
    ]);
    expect([tooMany.code, tooMany.stderr]).toEqual([2, expect.stringMatching(/error: .*maxIterations/)]);
    const unknownModel = await cli(['agent', 'create', 'bad', '--model', 'gpt-99', '--sandbox', box.id]);
    expect([unknownModel.code, unknownModel.stderr]).toEqual([2, expect.stringMatching(/error: .*gpt-99/)]);
    const badMode = await cli(['agent', 'create', 'bad', '--model', 'mock/m', '--mode', 'remote']);
    expect([badMode.code, badMode.stderr]).toEqual([
      2,
      'error: --mode must be one of in_sandbox, managed, local, local-mac\n',
    ]);
    const noModel = await cli(['agent', 'create', 'bad', '--sandbox', box.id]);
    expect([noModel.code, noModel.stderr]).toEqual([2, expect.stringContaining("'--model <model>' not specified")]);

    const promptFile = join(configDir, 'prompt.md');
    writeFileSync(promptFile, 'You code.');
    const created = await cli([
      'agent',
      'create',
      'coder',
      '--model',
      'mock/coder-1',
      '--sandbox',
      box.id,
      '--system-prompt-file',
      promptFile,
      '--tools',
      'bash,read_file',
      '--max-iterations',
      '10',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      slug: 'coder',
      version: 1,
      mode: 'in_sandbox',
      sandboxId: box.id,
      systemPrompt: 'You code.',
      tools: ['bash', 'read_file'],
      maxIterations: 10,
    });
    const managed = await cli(['agent', 'create', 'helper', '--model', 'mock/h', '--template', 'minimal']);
    expect([managed.code, managed.stdout]).toEqual([0, 'created helper v1 (mock/h, managed (minimal, per run))\n']);
    expect((await cli(['agent', 'create', 'coder', '--model', 'mock/m', '--sandbox', box.id])).code).toBe(6);

    const list = await cli(['agent', 'list']);
    expect(list.stdout).toMatch(new RegExp(`coder\\s+1\\s+mock/coder-1\\s+in_sandbox\\s+${box.id}\\s+2`));
    expect(list.stdout).toMatch(/helper\s+1\s+mock\/h\s+managed/);
    expect(list.stdout).not.toContain('bad');
    expect((await cli(['agent', 'get', 'coder'])).stdout).toMatch(/system prompt:\s+You code\.\n/);

    const updated = await cli(['agent', 'update', 'coder', '--model', 'mock/coder-2', '--description', 'Writes code']);
    expect([updated.code, updated.stdout]).toEqual([0, 'updated coder to v2\n']);
    // Only the flags given change: the prompt and limit stay.
    const got = JSON.parse((await cli(['agent', 'get', 'coder', '--json'])).stdout);
    expect(got).toMatchObject({
      version: 2,
      model: 'mock/coder-2',
      description: 'Writes code',
      systemPrompt: 'You code.',
      maxIterations: 10,
      tools: ['bash', 'read_file'],
    });
    expect((await cli(['agent', 'update', 'coder'])).code).toBe(2);
    const badUpdate = await cli(['agent', 'update', 'coder', '--tools', 'nope']);
    expect([badUpdate.code, badUpdate.stderr]).toEqual([2, expect.stringContaining('unknown tool nope')]);
    const versions = JSON.parse((await cli(['agent', 'versions', 'coder', '--json'])).stdout) as {
      version: number;
      model: string;
    }[];
    expect(versions.map((version) => [version.version, version.model])).toEqual([
      [2, 'mock/coder-2'],
      [1, 'mock/coder-1'],
    ]);
    expect((await cli(['agent', 'versions', 'coder'])).stdout).toMatch(/VERSION\s+MODEL.*\n2\s+mock\/coder-2.*\n1\s+/);
    // Between a linked sandbox and a managed one, both ways.
    expect((await cli(['agent', 'update', 'helper', '--sandbox', box.id, '--json'])).stdout).toMatch(
      /"mode": "in_sandbox"/,
    );
    const toManaged = JSON.parse((await cli(['agent', 'update', 'helper', '--mode', 'managed', '--json'])).stdout);
    expect(toManaged).toMatchObject({ version: 3, mode: 'managed', sandboxId: null, managed: { scope: 'run' } });
    const both = await cli(['agent', 'update', 'helper', '--sandbox', box.id, '--template', 'minimal']);
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('not both')]);
    expect((await cli(['agent', 'delete', 'helper'])).stdout).toBe('Deleted helper\n');
    const missing = await cli(['agent', 'get', 'helper']);
    expect([missing.code, missing.stderr]).toEqual([5, 'error: no agent helper\n']);
  });

  let streamedRunId = '';

  it('streams a run: text on stdout, the tool call and a summary on stderr, exit 0', async () => {
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'echo hi' } }], usage: { input: 10, output: 5 } },
      { text: 'The sandbox said hi.', usage: { input: 20, output: 8 } },
    ]);
    const run = await cli(['agent', 'run', 'coder', 'Say hi from the sandbox']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('The sandbox said hi.\n');
    expect(run.stderr).toContain('→ bash {"command":"echo hi"}\n');
    expect(run.stderr).toMatch(/← bash \(\d+ ms\) \{"exitCode":0,"stdout":"hi\\n"/);
    const summary = /completed · 2 steps · 43 tokens \(30 in, 13 out\) · run (run_\w+)\n$/.exec(run.stderr);
    expect(summary).not.toBeNull();
    streamedRunId = summary?.[1] ?? '';
    const stored = await rt.agent.get(streamedRunId);
    expect(stored).toMatchObject({
      status: 'completed',
      agent: 'coder',
      agentVersion: 2,
      text: 'The sandbox said hi.',
    });
    // The model got the prompt the CLI was given.
    expect(JSON.stringify(model.requests.at(-2)?.body)).toContain('Say hi from the sandbox');
  });

  it('prints one JSON event per line with --json, ending with done', async () => {
    model.script([{ text: 'A JSON answer.' }]);
    const run = await cli(['agent', 'run', 'coder', 'Answer', '--json']);
    expect(run.code).toBe(0);
    const events = ndjson(run.stdout);
    expect(events[0]?.type).toBe('start');
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed', text: 'A JSON answer.' });
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    const deltas = events.filter((event) => event.type === 'text-delta').map((event) => event.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('A JSON answer.');
    expect(run.stderr).toBe('');
  });

  it('starts a thread with --thread and continues it with --thread-id; thread list, messages and delete', async () => {
    model.script([{ text: 'Nice to meet you, Ada.' }, { text: 'Your name is Ada.' }]);
    const first = await cli(['agent', 'run', 'coder', 'My name is Ada.', '--thread', '--json']);
    expect(first.code).toBe(0);
    const start = ndjson(first.stdout)[0] as Extract<RunEvent, { type: 'start' }>;
    expect(start.threadId).toMatch(/^thr_/);
    const threadId = start.threadId as string;
    const before = model.requests.length;
    const second = await cli(['agent', 'run', 'coder', 'What is my name?', '--thread-id', threadId]);
    expect([second.code, second.stdout]).toEqual([0, 'Your name is Ada.\n']);
    expect(second.stderr).toContain(`· thread ${threadId}\n`);
    const sent = sentMessages(model.requests[before]);
    expect(sent.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(JSON.stringify(sent)).toContain('My name is Ada.');
    expect(JSON.stringify(sent)).toContain('Nice to meet you, Ada.');
    const both = await cli(['agent', 'run', 'coder', 'x', '--thread', '--thread-id', threadId]);
    expect(both.code).toBe(2);

    const threads = JSON.parse((await cli(['thread', 'list', '--json'])).stdout) as { id: string }[];
    expect(threads.map((thread) => thread.id)).toEqual([threadId]);
    expect((await cli(['thread', 'list', '--agent', 'coder'])).stdout).toMatch(new RegExp(`${threadId}\\s+coder\\s+4`));
    expect((await cli(['thread', 'list', '--agent', 'nobody'])).stdout).toBe('No threads.\n');
    expect(JSON.parse((await cli(['thread', 'get', threadId, '--json'])).stdout)).toMatchObject({
      id: threadId,
      messageCount: 4,
    });
    const messages = await cli(['thread', 'messages', threadId]);
    expect(messages.stdout).toMatch(
      /── run_\w+ ──\nuser: My name is Ada\.\nassistant: Nice to meet you, Ada\.\n── run_\w+ ──\nuser: What is my name\?\nassistant: Your name is Ada\.\n$/,
    );
    const json = JSON.parse((await cli(['thread', 'messages', threadId, '--json'])).stdout) as { role: string }[];
    expect(json.map((message) => message.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect((await cli(['thread', 'delete', threadId])).stdout).toBe(`Deleted ${threadId}\n`);
    expect((await cli(['thread', 'get', threadId])).code).toBe(5);
  });

  it('sends --attach files with a media type from the extension, and waits with --no-stream', async () => {
    const notes = join(configDir, 'notes.md');
    writeFileSync(notes, '- ship the CLI\n');
    const pixel = join(configDir, 'dot.png');
    writeFileSync(
      pixel,
      Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
        'base64',
      ),
    );
    model.script([{ text: 'Seen both.' }]);
    const before = model.requests.length;
    const run = await cli(['agent', 'run', 'coder', 'Look at these', '--attach', notes, pixel, '--no-stream']);
    expect([run.code, run.stdout]).toEqual([0, 'Seen both.\n']);
    expect(run.stderr).toMatch(/^completed · 1 step · \d+ tokens .* · run run_\w+\n$/);
    const user = sentMessages(model.requests[before]).find((message) => message.role === 'user');
    const parts = user?.content as { type: string; text?: string; image_url?: { url: string } }[];
    expect(parts.find((part) => part.type === 'text' && part.text?.includes('- ship the CLI'))?.text).toContain(
      'notes.md',
    );
    expect(parts.find((part) => part.type === 'image_url')?.image_url?.url).toMatch(/^data:image\/png;base64,iVBOR/);

    model.script([{ text: 'Quiet JSON.' }]);
    const json = await cli(['agent', 'run', 'coder', 'Quietly', '--no-stream', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'completed', text: 'Quiet JSON.', steps: 1 });
    const missing = await cli(['agent', 'run', 'coder', 'x', '--attach', join(configDir, 'nope.txt')]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('cannot read')]);
  });

  it('exits 1 when a run does not complete (max_iterations, failed)', async () => {
    expect(
      (await cli(['agent', 'create', 'looper', '--model', 'mock/loop', '--sandbox', box.id, '--max-iterations', '1']))
        .code,
    ).toBe(0);
    model.script([{ toolCalls: [{ name: 'bash', input: { command: 'true' } }] }]);
    const limited = await cli(['agent', 'run', 'looper', 'loop']);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toMatch(/max_iterations · 1 step · /);
    model.script([{ error: { status: 401, message: 'invalid api key' } }]);
    const failed = await cli(['agent', 'run', 'looper', 'fail']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/error: model_auth_failed: .*invalid api key/);
    expect(failed.stderr).toMatch(/failed · 0 steps/);
    const quiet = await cli(['agent', 'run', 'looper', 'fail again', '--no-stream']);
    // The script is empty now: the model server answers 500, and the run fails.
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toMatch(/failed · /);
  });

  it('lists runs, replays a run with agent events, and cancels runs (Ctrl-C while streaming too)', async () => {
    const runs = JSON.parse((await cli(['agent', 'runs', '--agent', 'coder', '--json'])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(runs.map((run) => run.id)).toContain(streamedRunId);
    expect(runs.every((run) => run.status === 'completed')).toBe(true);
    const failed = await cli(['agent', 'runs', '--status', 'failed']);
    expect(failed.stdout).toMatch(/^ID\s+AGENT\s+STATUS\s+STEPS\s+TOKENS\s+COST\s+THREAD/);
    expect(failed.stdout).toMatch(/looper v1\s+failed/);
    expect(failed.stdout).not.toContain('coder');
    expect((await cli(['agent', 'runs', '--limit', '1', '--json'])).stdout).toMatch(/^\[\n {2}\{[^[]*"id"/);
    expect(JSON.parse((await cli(['agent', 'runs', '--limit', '2', '--json'])).stdout)).toHaveLength(2);
    expect((await cli(['agent', 'runs', '--limit', 'many'])).code).toBe(2);

    const replay = await cli(['agent', 'events', streamedRunId]);
    expect([replay.code, replay.stdout]).toEqual([0, 'The sandbox said hi.\n']);
    expect(replay.stderr).toContain('→ bash {"command":"echo hi"}\n');
    expect(replay.stderr).toContain(`completed · 2 steps · 43 tokens (30 in, 13 out) · run ${streamedRunId}\n`);
    const tail = ndjson((await cli(['agent', 'events', streamedRunId, '--after', '3', '--json'])).stdout);
    expect(tail[0]?.seq).toBe(4);
    expect(tail.at(-1)?.type).toBe('done');
    expect((await cli(['agent', 'events', 'run_aaaaaaaaaaaaaaaaaaaa'])).code).toBe(5);

    // agent cancel on a run in progress, then on one that has ended.
    model.script([{ text: 'slow', delayMs: 20_000 }]);
    const started = await rt.agent.start('coder', 'take your time');
    await expect.poll(async () => (await rt.agent.get(started.id)).status).toBe('running');
    expect((await cli(['agent', 'cancel', started.id])).stdout).toBe(`${started.id} cancelled\n`);
    const ended = await cli(['agent', 'cancel', started.id]);
    expect([ended.code, ended.stderr]).toEqual([6, expect.stringContaining('has already ended')]);

    // Ctrl-C while streaming cancels the run and exits 130.
    model.script([{ text: 'slow', delayMs: 20_000 }]);
    const streaming = startCli(['agent', 'run', 'coder', 'take your time', '--json'], {
      configDir,
      env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    await expect.poll(() => streaming.stdout().includes('"type":"start"'), { timeout: 10_000 }).toBe(true);
    const runId = (ndjson(streaming.stdout())[0] as Extract<RunEvent, { type: 'start' }>).runId;
    await expect.poll(async () => (await rt.agent.get(runId)).status).toBe('running');
    const interruptedAt = Date.now();
    streaming.child.kill('SIGINT');
    const interrupted = await streaming.result;
    expect(interrupted.code).toBe(130);
    expect(Date.now() - interruptedAt).toBeLessThan(10_000);
    expect(ndjson(interrupted.stdout).at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
    expect(await rt.agent.get(runId)).toMatchObject({ status: 'cancelled' });
  });

  it('deploys agents/*.ts that import defineAgent from @runtools/sdk: created, unchanged, then updated', async () => {
    const project = mkdtempSync(join(tmpdir(), 'runtools-deploy-'));
    try {
      mkdirSync(join(project, 'agents'));
      const coder = (maxIterations: number) => `import { defineAgent } from '@runtools/sdk';

const prompt: string = 'You deploy.';

export default defineAgent({
  slug: 'deployed',
  model: 'mock/deploy-1',
  sandbox: '${box.id}',
  systemPrompt: prompt,
  tools: ['bash'],
  maxIterations: ${maxIterations},
});
`;
      writeFileSync(join(project, 'agents', 'coder.ts'), coder(5));
      writeFileSync(
        join(project, 'agents', 'helper.mjs'),
        `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'deployed-helper', model: 'mock/h', sandbox: { template: 'minimal' } });\n`,
      );
      const first = await cli(['deploy', project]);
      expect([first.code, first.stderr]).toEqual([0, expect.stringContaining('deploying agent deployed')]);
      expect(first.stdout).toMatch(/^created\s+agent\s+deployed\s+v1\ncreated\s+agent\s+deployed-helper\s+v1\n$/);
      expect(await rt.agents.get('deployed')).toMatchObject({
        model: 'mock/deploy-1',
        systemPrompt: 'You deploy.',
        tools: ['bash'],
        maxIterations: 5,
        sandboxId: box.id,
      });
      expect((await rt.agents.get('deployed-helper')).managed).toMatchObject({ template: 'minimal' });

      const again = await cli(['deploy', project]);
      expect(again.stdout).toMatch(/^unchanged\s+agent\s+deployed\s+v1\nunchanged\s+agent\s+deployed-helper\s+v1\n$/);

      writeFileSync(join(project, 'agents', 'coder.ts'), coder(7));
      const changed = await cli(['deploy', project, '--json']);
      expect(changed.code).toBe(0);
      expect(JSON.parse(changed.stdout)).toEqual([
        { file: expect.stringContaining('coder.ts'), kind: 'agent', name: 'deployed', action: 'updated', version: 2 },
        {
          file: expect.stringContaining('helper.mjs'),
          kind: 'agent',
          name: 'deployed-helper',
          action: 'unchanged',
          version: 1,
        },
      ]);
      expect((await rt.agents.get('deployed')).maxIterations).toBe(7);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('deploys into the project runtools.config.ts names (made on the first deploy), from its agentsDir, and moves what a new name claims', async () => {
    const project = mkdtempSync(join(tmpdir(), 'runtools-deploy-project-'));
    const config = (name: string) =>
      `import { defineConfig } from '@runtools/sdk';\nexport default defineConfig({ project: '${name}', agentsDir: 'bots' });\n`;
    try {
      mkdirSync(join(project, 'bots'));
      writeFileSync(join(project, 'runtools.config.ts'), config('Mobile App'));
      writeFileSync(
        join(project, 'bots', 'pilot.ts'),
        `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'pilot', model: 'mock/p', sandbox: '${box.id}' });\n`,
      );
      const first = await cli(['deploy', project]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^created\s+project\s+Mobile App\s+prj_\w+\ncreated\s+agent\s+pilot\s+v1\n$/);
      const mobile = (await rt.projects.list()).find((each) => each.name === 'Mobile App');
      expect((await rt.agents.get('pilot')).projectId).toBe(mobile?.id);
      expect((await rt.agents.list({ projectId: mobile?.id as string })).map((agent) => agent.slug)).toEqual(['pilot']);

      const again = await cli(['deploy', project]);
      expect(again.stdout).toMatch(/^unchanged\s+project\s+Mobile App\s+prj_\w+\nunchanged\s+agent\s+pilot\s+v1\n$/);
      // By its slug, an existing project: the agent moves there, without a new version.
      const web = await rt.projects.create({ name: 'Web' });
      writeFileSync(join(project, 'runtools.config.ts'), config('web'));
      const planned = await cli(['deploy', project, '--dry-run']);
      expect(planned.stdout).toMatch(/^unchanged\s+project\s+web\nupdate\s+agent\s+pilot\s+moves to project web\n$/);
      expect((await cli(['deploy', project])).code).toBe(0);
      expect(await rt.agents.get('pilot')).toMatchObject({ projectId: web.id, version: 1 });

      writeFileSync(join(project, 'runtools.config.ts'), `export default { project: 'web', agentsDir: 5 };\n`);
      const invalid = await cli(['deploy', project]);
      expect([invalid.code, invalid.stderr]).toEqual([2, expect.stringContaining('runtools.config.ts: agentsDir: ')]);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('refuses to deploy anything when one definition is invalid, naming the file', async () => {
    const project = mkdtempSync(join(tmpdir(), 'runtools-deploy-bad-'));
    try {
      mkdirSync(join(project, 'agents'));
      writeFileSync(
        join(project, 'agents', 'good.ts'),
        `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'never-deployed', model: 'mock/m', sandbox: '${box.id}' });\n`,
      );
      writeFileSync(
        join(project, 'agents', 'bad.ts'),
        `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'bad-one', model: 'mock/m', maxIterations: 101 });\n`,
      );
      const result = await cli(['deploy', project]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: agents\/bad\.ts: invalid agent definition\.maxIterations: /);
      expect(result.stderr).toContain('nothing was deployed');
      expect(result.stdout).toBe('');
      const slugs = (await rt.agents.list()).map((agent) => agent.slug);
      expect(slugs).not.toContain('never-deployed');
      expect(slugs).not.toContain('bad-one');
      const empty = await cli(['deploy', join(project, 'agents')]);
      expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining('nothing to deploy')]);

      // Valid as written but refused by the server (a tool it does not have): the others still go.
      writeFileSync(
        join(project, 'agents', 'bad.ts'),
        `import { defineAgent } from '@runtools/sdk';\nexport default defineAgent({ slug: 'bad-one', model: 'mock/m', sandbox: '${box.id}', tools: ['teleport'] });\n`,
      );
      const refused = await cli(['deploy', project]);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toMatch(/^created\s+agent\s+never-deployed\s+v1\n$/);
      expect(refused.stderr).toMatch(/failed\s+agent\s+bad-one\s+agents\/bad\.ts: unknown tool teleport/);
      expect(refused.stderr).toContain('error: 1 of 2 definitions not deployed');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('removes a provider', async () => {
    expect((await cli(['provider', 'remove', 'mock'])).stdout).toBe('Removed mock\n');
    expect((await cli(['provider', 'list'])).stdout).toBe('No providers.\n');
    const missing = await cli(['provider', 'remove', 'mock']);
    expect([missing.code, missing.stderr]).toEqual([5, 'error: no provider named mock\n']);
  });
});
