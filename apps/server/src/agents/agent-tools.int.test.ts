import { type RunEvent, RunTools } from '@runtools/sdk';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GithubServer, startGithubServer } from '../../../../test/support/github-server.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../test/support/server.js';

const databaseTool = `
export default {
  name: 'my-database',
  actions: {
    query: { execute: async (params, credentials) => ({ rows: [{ sql: params.sql, via: credentials.databaseUrl }] }) },
  },
};`;

describe('agents call the org’s tools: marketplace and custom, as model tools, with the run’s caller', () => {
  let model: ModelServer;
  let github: GithubServer;
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    github = await startGithubServer();
    return { RUNTOOLS_TOOL_RUNTIME: 'container', RUNTOOLS_TOOL_GITHUB_BASE_URL: github.url };
  });
  const rt = () => fixture.rt;

  beforeAll(async () => {
    await rt().secrets.set('MOCK_KEY', 'sk-mock', { category: 'provider' });
    await rt().providers.create({
      name: 'mock',
      type: 'openai-compatible',
      baseUrl: model.openaiBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    const bundled = await build({ stdin: { contents: databaseTool }, format: 'esm', write: false });
    await rt().tools.deploy({
      name: 'my-database',
      description: 'Query my application database',
      credentials: { required: ['databaseUrl'], schema: { databaseUrl: { type: 'string' } } },
      actions: [
        {
          name: 'query',
          description: 'Execute a SQL query',
          parameters: { type: 'object', properties: { sql: { type: 'string' } }, required: ['sql'] },
        },
      ],
      bundle: Buffer.from(bundled.outputFiles[0]?.contents ?? new Uint8Array()).toString('base64'),
    });
    await rt().tools.credentials.set('my-database', { databaseUrl: 'postgres://app' });
    await rt().providers.create({
      name: 'claude',
      type: 'anthropic',
      baseUrl: model.anthropicBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
  }, 15 * 60_000);
  afterAll(async () => {
    await model?.close();
    await github?.close();
  });

  it('refuses an agent naming a tool the org has not installed or deployed, or an action its tool lacks', async () => {
    for (const tools of [['github'], ['my-database.drop'], ['nope'], ['my-database.query.x']]) {
      await expect(
        rt().agents.create({ slug: `refused-${tools[0]?.replaceAll('.', '-')}`, model: 'mock/m', tools }),
      ).rejects.toMatchObject({ code: 'tool_unknown' });
    }
  });

  it('gives the model each action as a tool with its JSON Schema and runs the calls through the tool service', async () => {
    await rt().tools.install('github');
    await rt().tools.credentials.set('github', { token: github.token });
    await rt().agents.create({ slug: 'analyst', model: 'mock/m', tools: ['my-database.query', 'github'] });
    model.script([
      {
        toolCalls: [
          { id: 'q1', name: 'my_database_query', input: { sql: 'select 1' } },
          { id: 'g1', name: 'github_list_repos', input: { perPage: 2 } },
          { id: 'g2', name: 'github_get_repo', input: { owner: 'octo' } },
        ],
      },
      { text: 'Done.' },
    ]);
    const before = model.requests.length;
    const events: RunEvent[] = [];
    for await (const event of rt().agent.run('analyst', 'Look around.', { stream: true })) events.push(event);
    const sent = model.requests[before]?.body as { tools?: { function: { name: string; parameters: unknown } }[] };
    const names = (sent.tools ?? []).map((entry) => entry.function.name);
    expect(names).toEqual(expect.arrayContaining(['my_database_query', 'github_list_repos', 'github_create_issue']));
    expect(names).not.toContain('bash');
    expect(sent.tools?.find((entry) => entry.function.name === 'my_database_query')?.function.parameters).toMatchObject(
      {
        properties: { sql: { type: 'string' } },
        required: ['sql'],
      },
    );
    const outputs = Object.fromEntries(
      events
        .filter((event): event is Extract<RunEvent, { type: 'tool-result' }> => event.type === 'tool-result')
        .map((event) => [event.toolName, { isError: event.isError, output: event.output }]),
    );
    expect(outputs.my_database_query).toEqual({
      isError: false,
      output: { rows: [{ sql: 'select 1', via: 'postgres://app' }] },
    });
    expect(outputs.github_list_repos).toMatchObject({
      isError: false,
      output: { repos: expect.any(Array), nextPage: 2 },
    });
    // Params off the schema are the tool's error, shown to the model; the run goes on.
    expect(outputs.github_get_repo?.isError).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    const executions = await rt().tools.executions();
    expect(
      executions
        .slice(0, 2)
        .map((execution) => execution.action)
        .sort(),
    ).toEqual(['list_repos', 'query']);
  });

  it('acts with the caller’s rights: a key without tools:execute gets the refusal as the tool’s result', async () => {
    const key = await rt().auth.keys.create({
      name: 'agents only',
      scopes: ['agents:read', 'agents:write', 'sandboxes:read', 'sandboxes:write', 'secrets:read'],
    });
    const limited = new RunTools({ apiKey: key.key, baseUrl: fixture.server.url });
    model.script([{ toolCalls: [{ id: 'q2', name: 'my_database_query', input: { sql: 'select 2' } }] }, { text: 'x' }]);
    const events: RunEvent[] = [];
    for await (const event of limited.agent.run('analyst', 'Query.', { stream: true })) events.push(event);
    const result = events.find((event) => event.type === 'tool-result') as Extract<RunEvent, { type: 'tool-result' }>;
    expect(result).toMatchObject({ isError: true });
    expect(JSON.stringify(result.output)).toContain('tools:execute');
  });

  it('runs the Codex-style tools in a sandbox: exec_command with sessions, write_stdin, apply_patch, view_image', async () => {
    const box = fixture.track(await rt().sandboxes.create({ runtime: 'container' }));
    await rt().agents.create({
      slug: 'codex',
      model: 'claude/m',
      sandbox: box.id,
      tools: ['exec_command', 'write_stdin', 'apply_patch', 'view_image', 'web_search'],
    });
    const patch = [
      '*** Begin Patch',
      '*** Add File: notes/plan.md',
      '+# Plan',
      '+step one',
      '*** Update File: app.txt',
      '@@',
      '-old line',
      '+new line',
      '*** End Patch',
    ].join('\n');
    const badPatch =
      '*** Begin Patch\n*** Update File: app.txt\n@@\n-not there\n+x\n*** Add File: other.md\n+y\n*** End Patch';
    // A 1x1 PNG.
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
    await box.files.write('/root/app.txt', 'first\nold line\nlast\n');
    await box.files.write('/root/pixel.png', Buffer.from(png, 'base64'));
    model.script([
      { toolCalls: [{ id: 'e1', name: 'exec_command', input: { cmd: 'echo one; echo two >&2; exit 3' } }] },
      {
        toolCalls: [
          { id: 'e2', name: 'exec_command', input: { cmd: 'read name; echo "hello $name"', yield_time_ms: 300 } },
        ],
      },
      { toolCalls: [{ id: 'w1', name: 'write_stdin', input: { session_id: 2, chars: 'Ada\n', yield_time_ms: 3000 } }] },
      { toolCalls: [{ id: 'w2', name: 'write_stdin', input: { session_id: 2 } }] },
      { toolCalls: [{ id: 'p1', name: 'apply_patch', input: { input: patch } }] },
      { toolCalls: [{ id: 'p2', name: 'apply_patch', input: { input: badPatch } }] },
      { toolCalls: [{ id: 'v1', name: 'view_image', input: { path: 'pixel.png' } }] },
      { text: 'Done.' },
    ]);
    const before = model.requests.length;
    const events: RunEvent[] = [];
    for await (const event of rt().agent.run('codex', 'Work.', { stream: true })) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    const results = events.filter(
      (event): event is Extract<RunEvent, { type: 'tool-result' }> => event.type === 'tool-result',
    );
    const byId = Object.fromEntries(results.map((result) => [result.toolCallId, result]));
    const outputOf = (id: string) => (byId[id]?.output ?? {}) as { output?: string; exit_code?: number };
    expect(byId.e1).toMatchObject({ isError: false, output: { exit_code: 3 } });
    expect(outputOf('e1').output).toMatch(/one\r?\n.*two/s);
    expect(byId.e2).toMatchObject({ isError: false, output: { session_id: 2 } });
    expect(outputOf('e2').exit_code).toBeUndefined();
    expect(byId.w1).toMatchObject({ isError: false, output: { exit_code: 0 } });
    expect(outputOf('w1').output).toContain('hello Ada');
    expect(byId.w2).toMatchObject({ isError: true });
    expect(JSON.stringify(byId.w2?.output)).toContain('no running session 2');
    expect(byId.p1).toMatchObject({ isError: false, output: { applied: ['A notes/plan.md', 'M app.txt'] } });
    expect(byId.p2?.isError).toBe(true);
    expect(JSON.stringify(byId.p2?.output)).toContain('does not apply');
    expect(await box.files.read('/root/app.txt')).toBe('first\nnew line\nlast\n');
    expect(await box.files.read('/root/notes/plan.md')).toBe('# Plan\nstep one\n');
    expect(await box.files.exists('/root/other.md')).toBe(false);
    expect(byId.v1?.isError).toBe(false);
    // The model is given the image itself, as an image block of the tool result.
    const last = JSON.stringify(model.requests.at(-1)?.body);
    expect(last).toContain('"type":"image"');
    expect(last).toContain(png.slice(0, 40));
    expect(model.requests.length - before).toBe(8);
  });
});
