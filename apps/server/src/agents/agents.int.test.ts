import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RunEvent, RunTools, type Sandbox } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelServer, type RecordedRequest, startModelServer } from '../../../../test/support/model-server.js';
import { useSandboxServer } from '../../../../test/support/server.js';

/** Exa's search API as the web_search tool calls it: POST /search with x-api-key, results with text. */
async function startExa(): Promise<{ url: string; queries: { key: string; body: unknown }[]; close(): Promise<void> }> {
  const queries: { key: string; body: unknown }[] = [];
  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => {
      raw += chunk;
    });
    request.on('end', () => {
      queries.push({ key: String(request.headers['x-api-key']), body: JSON.parse(raw) });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          requestId: 'r1',
          results: [{ title: 'RunTools', url: 'https://example.com/runtools', text: 'Agents in sandboxes.' }],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** The messages a recorded model request carried (a loose shape: tests read the fields they check). */
interface SentMessage {
  role: string;
  content: unknown;
  tool_call_id?: string;
}
function sentMessages(request: RecordedRequest | undefined): SentMessage[] {
  return (request?.body.messages ?? []) as SentMessage[];
}

/** The thinking a run streamed, joined. */
const thinkingOf = (events: RunEvent[]) =>
  events
    .filter((event) => event.type === 'thinking')
    .map((event) => event.text)
    .join('');

type ToolResult = Extract<RunEvent, { type: 'tool-result' }>;
const results = (events: RunEvent[]) => events.filter((event): event is ToolResult => event.type === 'tool-result');

describe('agents: definitions, the loop, built-in tools, threads and runs', () => {
  let model: ModelServer;
  let exa: Awaited<ReturnType<typeof startExa>>;
  let box: Sandbox;
  // The model server and Exa come first: the server is told where Exa is.
  const fixture = useSandboxServer(async () => {
    model = await startModelServer();
    exa = await startExa();
    // Built-in providers reach it through the server's base-URL overrides, as they would reach a gateway.
    return {
      RUNTOOLS_EXA_URL: exa.url,
      RUNTOOLS_OPENAI_BASE_URL: model.openaiBaseUrl,
      RUNTOOLS_ANTHROPIC_BASE_URL: model.anthropicBaseUrl,
      // Short leases, so that a run whose holder is gone is taken over within seconds.
      RUNTOOLS_QUEUE_LEASE_MS: '3000',
    };
  });

  beforeAll(async () => {
    await rt().secrets.set('MOCK_KEY', 'sk-mock', { category: 'provider' });
    await rt().providers.create({
      name: 'mock',
      type: 'openai-compatible',
      baseUrl: model.openaiBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    await rt().providers.create({
      name: 'claude',
      type: 'anthropic',
      baseUrl: model.anthropicBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    box = fixture.track(await rt().sandboxes.create({ runtime: 'container' }));
  }, 15 * 60_000);
  afterAll(async () => {
    await model?.close();
    await exa?.close();
  }, 120_000);
  /** The client of the moment (a restart makes a new one). */
  const rt = () => fixture.rt;
  const server = () => fixture.server;

  it('validates definitions: model, tools, limits, mode and sandbox, each with its own code', async () => {
    const base = { model: 'mock/m1', sandbox: box.id };
    await expect(rt().agents.create({ slug: 'bad', ...base, model: 'gpt-99' })).rejects.toMatchObject({
      code: 'model_unknown',
      status: 400,
    });
    // A name that is a key of every object is no alias (it was a 500).
    for (const model of ['constructor', 'toString'])
      await expect(rt().agents.create({ slug: 'proto', ...base, model })).rejects.toMatchObject({
        code: 'model_unknown',
        status: 400,
      });
    await expect(rt().agents.create({ slug: 'bad', ...base, model: 'nowhere/m1' })).rejects.toMatchObject({
      code: 'model_unknown',
    });
    await expect(rt().agents.create({ slug: 'bad', ...base, tools: ['bash', 'teleport'] })).rejects.toMatchObject({
      code: 'tool_unknown',
      message: expect.stringContaining('teleport'),
    });
    await expect(rt().agents.create({ slug: 'bad', ...base, maxIterations: 101 })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(rt().agents.create({ slug: 'bad', ...base, maxIterations: 0 })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(
      rt().agents.create({ slug: 'bad', model: 'mock/m1', sandbox: 'sbx_aaaaaaaaaaaaaaaaaaaa' }),
    ).rejects.toMatchObject({ code: 'sandbox_not_found', status: 404 });
    await expect(rt().agents.create({ slug: 'bad', model: 'mock/m1', mode: 'in_sandbox' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(rt().agents.create({ slug: 'bad', model: 'mock/m1', mode: 'local' })).rejects.toMatchObject({
      code: 'validation_failed',
      details: { field: 'device' },
    });
    await expect(
      rt().agents.create({ slug: 'bad', model: 'mock/m1', mode: 'local-mac', device: 'no-such-node' }),
    ).rejects.toMatchObject({ code: 'mesh_node_not_found' });
    await expect(
      rt().agents.create({ slug: 'bad', model: 'mock/m1', mode: 'managed', device: 'no-such-node' }),
    ).rejects.toMatchObject({ code: 'validation_failed', details: { field: 'device' } });
    expect((await rt().agents.list()).map((agent) => agent.slug)).not.toContain('bad');

    const agent = await rt().agents.create({ slug: 'helper', ...base, systemPrompt: 'Be brief.' });
    expect(agent).toMatchObject({
      slug: 'helper',
      name: 'helper',
      mode: 'in_sandbox',
      sandboxId: box.id,
      maxIterations: 25,
      version: 1,
    });
    expect(agent.tools).toContain('get_dev_url');
    await expect(rt().agents.create({ slug: 'helper', ...base })).rejects.toMatchObject({ code: 'agent_exists' });
    const updated = await rt().agents.update('helper', { maxIterations: 5, tools: ['bash'] });
    expect(updated).toMatchObject({ version: 2, maxIterations: 5, tools: ['bash'], systemPrompt: 'Be brief.' });
    expect((await rt().agents.versions('helper')).map((version) => version.version)).toEqual([2, 1]);
    // The same again is no change and no new version; null removes a description; a new mode alone starts
    // from that mode's default sandbox.
    expect((await rt().agents.update('helper', { maxIterations: 5 })).version).toBe(2);
    expect((await rt().agents.update('helper', { description: 'helps' })).description).toBe('helps');
    expect((await rt().agents.update('helper', { description: null })).description).toBeNull();
    const managed = await rt().agents.update('helper', { mode: 'managed' });
    expect(managed).toMatchObject({ mode: 'managed', sandboxId: null, managed: { scope: 'run', cleanup: 'destroy' } });
    await expect(rt().agents.update('helper', { mode: 'in_sandbox' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    expect(await rt().agents.update('helper', { sandbox: box.id })).toMatchObject({ mode: 'in_sandbox', version: 6 });
    await expect(rt().agents.update('helper', { tools: ['nope'] })).rejects.toMatchObject({ code: 'tool_unknown' });
    expect((await rt().agents.get('helper')).version).toBe(6);

    // Another org sees none of it.
    const other = (await (await server().request('POST', '/v1/orgs', { body: { name: 'Other' } })).json()) as {
      apiKey: { key: string };
    };
    const stranger = new RunTools({ apiKey: other.apiKey.key, baseUrl: server().url });
    await expect(stranger.agents.get('helper')).rejects.toMatchObject({ code: 'agent_not_found' });
    expect(await stranger.agents.list()).toEqual([]);
    // Its models are its own (no `mock` provider there), and our sandbox is not one of its.
    await expect(stranger.agents.create({ slug: 'x', model: 'mock/m1', sandbox: box.id })).rejects.toMatchObject({
      code: 'model_unknown',
    });
    await expect(stranger.agents.create({ slug: 'x', model: 'gpt-5', sandbox: box.id })).rejects.toMatchObject({
      code: 'sandbox_not_found',
    });
    // PUT is the whole definition: created, the same again is no new version, what it leaves out is reset.
    const put = await rt().agents.put('whole', { model: 'mock/m1', sandbox: box.id, maxIterations: 7 });
    expect(put).toMatchObject({ slug: 'whole', version: 1, maxIterations: 7 });
    expect((await rt().agents.put('whole', { model: 'mock/m1', sandbox: box.id, maxIterations: 7 })).version).toBe(1);
    expect(await rt().agents.put('whole', { model: 'mock/m1', sandbox: box.id })).toMatchObject({
      version: 2,
      maxIterations: 25,
    });
    await expect(rt().agents.put('whole', { model: 'mock/m1', tools: ['x'] })).rejects.toMatchObject({
      code: 'tool_unknown',
    });
    await rt().agents.delete('whole');
    await rt().agents.delete('helper');
    await expect(rt().agents.get('helper')).rejects.toMatchObject({ code: 'agent_not_found' });
  });

  it('names the secret to set when a provider key is missing', async () => {
    await rt().agents.create({ slug: 'claude-user', model: 'claude-sonnet-4', sandbox: box.id });
    await expect(rt().agent.run('claude-user', 'hi')).rejects.toMatchObject({
      code: 'provider_key_missing',
      status: 400,
      message: expect.stringContaining('ANTHROPIC_API_KEY'),
    });
    expect(await rt().agent.list({ agent: 'claude-user' })).toEqual([]);
    const models = await rt().models.list();
    expect(models).toContainEqual({
      alias: 'claude-sonnet-4',
      provider: 'anthropic',
      modelId: 'claude-sonnet-4-0',
      secret: 'ANTHROPIC_API_KEY',
      price: { input: 3, output: 15 },
    });
    expect(models).toContainEqual({ alias: null, provider: 'mock', modelId: '*', secret: 'MOCK_KEY', price: null });
  });

  it("runs built-in models with the org's keys: gpt-5 over the Responses API, claude-sonnet-4 over Messages", async () => {
    await rt().secrets.set('OPENAI_API_KEY', 'sk-openai-org', { category: 'provider' });
    await rt().secrets.set('ANTHROPIC_API_KEY', 'sk-ant-org', { category: 'provider' });
    try {
      await rt().agents.create({ slug: 'gpt', model: 'gpt-5', sandbox: box.id });
      model.requireKey('sk-openai-org');
      model.script([
        { thinking: 'Count the files first.', toolCalls: [{ name: 'bash', input: { command: 'echo 3' } }] },
        { text: 'There are 3.', usage: { input: 50, output: 4 } },
        { text: 'Still 3.' },
      ]);
      const before = model.requests.length;
      const first = await rt().agent.run('gpt', 'How many?', { thread: true });
      expect(first).toMatchObject({ status: 'completed', text: 'There are 3.', steps: 2 });
      // Its cost: its tokens at gpt-5's list price ($1.25 and $10 per million), as the model table shows it.
      expect((await rt().models.list()).find((entry) => entry.alias === 'gpt-5')?.price).toEqual({
        input: 1.25,
        output: 10,
      });
      expect(first.usage.inputTokens).toBeGreaterThan(50);
      expect(first.costUsd).toBe(Math.round(first.usage.inputTokens * 1.25 + first.usage.outputTokens * 10) / 1e6);
      expect((await rt().agent.list({ agent: 'gpt' }))[0]?.costUsd).toBe(first.costUsd);
      const events = await collect(rt().agent.events(first.id));
      // A reasoning model's summary arrives as thinking, because the platform asks for one.
      expect(thinkingOf(events)).toBe('Count the files first.');
      expect(results(events)[0]).toMatchObject({ isError: false, output: { stdout: '3\n' } });
      const [request, followUp] = model.requests.slice(before);
      expect(request).toMatchObject({ protocol: 'openai-responses', path: '/v1/responses', apiKey: 'sk-openai-org' });
      expect(request?.body).toMatchObject({ model: 'gpt-5', store: false, reasoning: { summary: 'auto' } });
      // The tool's output goes back as a function_call_output for the call the model made.
      const input = followUp?.body.input as { type?: string; call_id?: string; output?: string }[];
      const call = input.find((item) => item.type === 'function_call');
      expect(input.find((item) => item.type === 'function_call_output')).toMatchObject({
        call_id: call?.call_id,
        output: expect.stringContaining('3'),
      });

      // The thread keeps every step: the prompt, the call and its result, the answer.
      expect((await rt().threads.messages(first.threadId as string)).map((message) => message.role)).toEqual([
        'user',
        'assistant',
        'tool',
        'assistant',
      ]);
      // And the reasoning item whole: nothing is stored at OpenAI, so it goes back encrypted.
      const continued = await rt().agent.run('gpt', 'And now?', { thread: first.threadId as string });
      expect(continued).toMatchObject({ status: 'completed', text: 'Still 3.' });
      const history = model.requests.at(-1)?.body.input as { type?: string; encrypted_content?: string }[];
      expect(history.find((item) => item.type === 'reasoning')).toMatchObject({
        encrypted_content: expect.any(String),
        summary: [{ type: 'summary_text', text: 'Count the files first.' }],
      });

      await rt().agents.create({ slug: 'sonnet', model: 'claude-sonnet-4', sandbox: box.id });
      model.requireKey('sk-ant-org');
      model.script([{ text: 'Hello from Claude.' }]);
      expect(await rt().agent.run('sonnet', 'Hi')).toMatchObject({ status: 'completed', text: 'Hello from Claude.' });
      expect(model.requests.at(-1)).toMatchObject({
        protocol: 'anthropic',
        apiKey: 'sk-ant-org',
        body: { model: 'claude-sonnet-4-0' },
      });
    } finally {
      model.requireKey(undefined);
      await rt().secrets.delete('OPENAI_API_KEY');
      await rt().secrets.delete('ANTHROPIC_API_KEY');
    }
  });

  it('streams a run over the OpenAI protocol: text, a tool call in the sandbox, its result back to the model', async () => {
    await rt().agents.create({ slug: 'coder', model: 'mock/coder-1', sandbox: box.id, systemPrompt: 'You code.' });
    model.script([
      {
        toolCalls: [{ id: 'call_1', name: 'bash', input: { command: 'echo $((6*7)) && uname -s' } }],
        usage: { input: 10, output: 5 },
      },
      { text: 'The answer is 42, on Linux.', usage: { input: 20, output: 8 } },
    ]);
    const before = model.requests.length;
    const events = await collect(rt().agent.run('coder', 'What is 6*7?', { stream: true }));
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('start');
    expect(types.at(-1)).toBe('done');
    expect(types).toEqual(expect.arrayContaining(['tool-call', 'tool-result', 'step', 'text-delta']));
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.find((event) => event.type === 'tool-call')).toMatchObject({
      toolName: 'bash',
      input: { command: 'echo $((6*7)) && uname -s' },
    });
    expect(results(events)[0]).toMatchObject({ isError: false, output: { exitCode: 0, stdout: '42\nLinux\n' } });
    // Deltas arrive in pieces and add up to the answer.
    const deltas = events.filter((event) => event.type === 'text-delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((event) => event.text).join('')).toBe('The answer is 42, on Linux.');
    const done = events.at(-1) as Extract<RunEvent, { type: 'done' }>;
    expect(done).toMatchObject({
      status: 'completed',
      text: 'The answer is 42, on Linux.',
      steps: 2,
      usage: { inputTokens: 30, outputTokens: 13, totalTokens: 43 },
    });

    // The model got the system prompt, the key from the org secret, and then the tool's result.
    const [first, second] = model.requests.slice(before);
    expect(first?.headers.authorization).toBe('Bearer sk-mock');
    const firstMessages = sentMessages(first);
    expect(firstMessages[0]).toMatchObject({ role: 'system', content: expect.stringContaining('You code.') });
    const toolMessage = sentMessages(second).find((message) => message.role === 'tool');
    expect(toolMessage?.tool_call_id).toBe('call_1');
    expect(toolMessage?.content).toContain('42');

    // Stored: the run, and the same events on replay.
    const start = events[0] as Extract<RunEvent, { type: 'start' }>;
    const run = await rt().agent.get(start.runId);
    expect(run).toMatchObject({ status: 'completed', agent: 'coder', steps: 2, text: 'The answer is 42, on Linux.' });
    expect(run.usage.totalTokens).toBe(43);
    expect(await collect(rt().agent.events(run.id))).toEqual(events);
    expect(await rt().agent.events(run.id)).toEqual(events);
    expect((await collect(rt().agent.events(run.id, { after: events.length - 2 }))).map((event) => event.type)).toEqual(
      ['step', 'done'],
    );
  });

  it('talks to a registered OpenAI-protocol endpoint (type openai) through chat completions', async () => {
    await rt().providers.create({
      name: 'proxy',
      type: 'openai',
      baseUrl: model.openaiBaseUrl,
      apiKeySecret: 'MOCK_KEY',
    });
    await expect(
      rt().providers.create({ name: 'proxy', type: 'openai', baseUrl: model.openaiBaseUrl }),
    ).rejects.toMatchObject({ code: 'provider_exists' });
    await expect(
      rt().providers.create({ name: 'anthropic', type: 'anthropic', baseUrl: model.anthropicBaseUrl }),
    ).rejects.toMatchObject({ code: 'provider_exists' });
    await rt().agents.create({ slug: 'proxied', model: 'proxy/gpt-4o', sandbox: box.id });
    model.script([{ text: 'Hello through the proxy.' }]);
    const before = model.requests.length;
    // A registered provider's model has no known price (RUNTOOLS_MODEL_PRICES can give it one): no cost.
    expect(await rt().agent.run('proxied', 'hi')).toMatchObject({
      status: 'completed',
      text: 'Hello through the proxy.',
      costUsd: null,
    });
    expect(model.requests[before]).toMatchObject({ path: '/v1/chat/completions', apiKey: 'sk-mock' });
    expect(model.requests[before]?.body.model).toBe('gpt-4o');
    expect((await rt().providers.list()).map((provider) => provider.name)).toEqual(['claude', 'mock', 'proxy']);
    await rt().providers.delete('proxy');
    await expect(rt().agent.run('proxied', 'hi')).rejects.toMatchObject({ code: 'model_unknown' });
    await expect(rt().providers.delete('proxy')).rejects.toMatchObject({ code: 'provider_not_found' });
  });

  it('runs over the Anthropic protocol with thinking, and waits for the result without streaming', async () => {
    await rt().agents.create({ slug: 'thinker', model: 'claude/claude-test', sandbox: box.id });
    model.script([
      {
        thinking: 'I should look at the file.',
        toolCalls: [{ name: 'write_file', input: { path: 'notes/a.txt', content: 'alpha\nbeta\n' } }],
      },
      { text: 'Wrote it.' },
    ]);
    const before = model.requests.length;
    const run = await rt().agent.run('thinker', 'Write notes/a.txt');
    expect(run).toMatchObject({ status: 'completed', text: 'Wrote it.', steps: 2 });
    const events = await collect(rt().agent.events(run.id));
    expect(thinkingOf(events)).toBe('I should look at the file.');
    expect((await box.exec('cat /root/notes/a.txt')).stdout).toBe('alpha\nbeta\n');
    const second = model.requests[before + 1];
    expect(second?.headers['x-api-key']).toBe('sk-mock');
    const blocks = sentMessages(second).flatMap((message) => (Array.isArray(message.content) ? message.content : []));
    expect(blocks.map((block) => block.type)).toEqual(expect.arrayContaining(['thinking', 'tool_use', 'tool_result']));
  });

  it('runs every built-in tool in the sandbox, and gives tool errors back to the model', async () => {
    await rt().agents.create({ slug: 'tools', model: 'mock/tools', sandbox: box.id, maxIterations: 30 });
    await rt().secrets.set('EXA_API_KEY', 'exa-key', { category: 'tool' });
    const calls: [string, Record<string, unknown>][] = [
      ['write_file', { path: '/root/work/app.py', content: 'a = 1\nb = 2\nprint(a + b)\n' }],
      ['read_file', { path: '/root/work/app.py', startLine: 2, endLine: 3 }],
      ['edit_file', { path: '/root/work/app.py', oldText: 'b = 2', newText: 'b = 40' }],
      ['edit_file', { path: '/root/work/app.py', oldText: 'missing', newText: 'x' }],
      ['write_file', { path: '/root/work/dup.txt', content: 'x x\n' }],
      ['edit_file', { path: '/root/work/dup.txt', oldText: 'x', newText: 'y' }],
      ['edit_file', { path: '/root/work/dup.txt', oldText: 'x', newText: 'y', replaceAll: true }],
      ['list_directory', { path: '/root/work' }],
      ['file_search', { pattern: '*.py', path: '/root' }],
      ['grep', { pattern: 'print\\(', path: '/root/work' }],
      ['bash', { command: 'cd /root/work && python3 app.py 2>/dev/null || perl -e "print 41+1, qq(\\n)"' }],
      ['read_file', { path: '/root/nope.txt' }],
      ['delete_file', { path: '/root/work' }],
      ['delete_file', { path: '/root/work', recursive: true }],
      ['web_search', { query: 'runtools agents', numResults: 1 }],
      ['get_dev_url', { port: 3000 }],
    ];
    model.script([
      ...calls.map(([name, input], index) => ({ toolCalls: [{ id: `t${index}`, name, input }] })),
      { text: 'All done.' },
    ]);
    const events = await collect(rt().agent.run('tools', 'Exercise your tools', { stream: true }));
    const outputs = results(events);
    expect(outputs.map((event) => event.toolName)).toEqual(calls.map(([name]) => name));
    const [write, read, edit, missing, , ambiguous, replaceAll, list, search, grep, bash, absent, rmdir, rm, web, url] =
      outputs;
    expect(write).toMatchObject({ isError: false, output: { path: '/root/work/app.py', bytes: 25 } });
    expect(read?.output).toMatchObject({
      totalLines: 3,
      startLine: 2,
      endLine: 3,
      content: '2\tb = 2\n3\tprint(a + b)',
    });
    expect(edit).toMatchObject({ isError: false, output: { replacements: 1 } });
    expect(missing).toMatchObject({ isError: true, output: expect.stringContaining('not found') });
    expect(ambiguous).toMatchObject({ isError: true, output: expect.stringContaining('appears 2 times') });
    expect(replaceAll).toMatchObject({ isError: false, output: { replacements: 2 } });
    expect(list?.output).toMatchObject({
      entries: [
        { name: 'app.py', type: 'file' },
        { name: 'dup.txt', type: 'file' },
      ],
    });
    expect(search?.output).toEqual({ matches: ['/root/work/app.py'] });
    expect(grep?.output).toMatchObject({ count: 1, matches: '/root/work/app.py:3:print(a + b)' });
    expect(bash).toMatchObject({ isError: false, output: { exitCode: 0, stdout: '42\n' } });
    expect(absent).toMatchObject({ isError: true, output: expect.stringContaining('does not exist') });
    expect(rmdir).toMatchObject({ isError: true, output: expect.stringContaining('not empty') });
    expect(rm).toMatchObject({ isError: false, output: { deleted: true } });
    expect(web?.output).toEqual({
      results: [{ title: 'RunTools', url: 'https://example.com/runtools', text: 'Agents in sandboxes.' }],
    });
    expect(exa.queries.at(-1)).toMatchObject({ key: 'exa-key', body: { query: 'runtools agents', numResults: 1 } });
    expect(url?.output).toMatchObject({ port: 3000, public: false });
    expect(String((url?.output as { url?: string } | undefined)?.url)).toMatch(
      new RegExp(`^http://3000-${box.id}\\.sandboxes\\.localhost:\\d+/\\?rt_token=`),
    );
    expect((await box.exec('cat /root/work/dup.txt 2>&1; ls /root/work 2>&1 | head -1')).stdout).toMatch(
      /No such file/,
    );
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed', text: 'All done.' });

    // Without the Exa key the tool fails, and the model is told why.
    await rt().secrets.delete('EXA_API_KEY');
    model.script([{ toolCalls: [{ name: 'web_search', input: { query: 'x' } }] }, { text: 'ok' }]);
    const noKey = results(await collect(rt().agent.run('tools', 'search', { stream: true })));
    expect(noKey[0]).toMatchObject({ isError: true, output: expect.stringContaining('EXA_API_KEY') });
  });

  it('truncates a long tool output with a marker', async () => {
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'head -c 100000 /dev/zero | tr "\\0" a' } }] },
      { text: 'ok' },
    ]);
    const [result] = results(await collect(rt().agent.run('tools', 'long output', { stream: true })));
    const stdout = String((result?.output as { stdout?: string } | undefined)?.stdout);
    expect(stdout).toMatch(/\[\.\.\. \d+ bytes truncated \.\.\.\]/);
    expect(stdout.length).toBeLessThan(20_000);
  });

  it('keeps a thread: the next run continues with the whole history', async () => {
    model.script([{ text: 'Nice to meet you, Ada.' }, { text: 'Your name is Ada.' }]);
    const first = await rt().agent.run('coder', 'My name is Ada.', { thread: true });
    expect(first.threadId).toMatch(/^thr_/);
    const before = model.requests.length;
    const second = await rt().agent.run('coder', 'What is my name?', { thread: first.threadId as string });
    expect(second).toMatchObject({ status: 'completed', threadId: first.threadId, text: 'Your name is Ada.' });
    const sent = sentMessages(model.requests[before]);
    expect(sent.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(JSON.stringify(sent)).toContain('Nice to meet you, Ada.');

    const messages = await rt().threads.messages(first.threadId as string);
    expect(messages.map((message) => [message.role, message.runId])).toEqual([
      ['user', first.id],
      ['assistant', first.id],
      ['user', second.id],
      ['assistant', second.id],
    ]);
    expect(await rt().threads.get(first.threadId as string)).toMatchObject({ messageCount: 4, agent: 'coder' });
    expect((await rt().threads.list({ agent: 'coder' })).map((thread) => thread.id)).toContain(first.threadId);
    expect((await rt().agent.list({ thread: first.threadId as string })).map((run) => run.id)).toEqual([
      second.id,
      first.id,
    ]);
    await expect(rt().agent.run('thinker', 'hi', { thread: first.threadId as string })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    // One run at a time on a thread.
    model.script([{ text: 'slow', delayMs: 30_000 }]);
    const busy = await rt().agent.start('coder', 'wait', { thread: first.threadId as string });
    await expect(rt().agent.run('coder', 'too soon', { thread: first.threadId as string })).rejects.toMatchObject({
      code: 'invalid_transition',
      status: 409,
    });
    await rt().agent.cancel(busy.id);
    model.reset();
    await rt().threads.delete(first.threadId as string);
    await expect(rt().threads.get(first.threadId as string)).rejects.toMatchObject({ code: 'thread_not_found' });
    await expect(rt().agent.run('coder', 'x', { thread: 'thr_aaaaaaaaaaaaaaaaaaaa' })).rejects.toMatchObject({
      code: 'thread_not_found',
    });
  });

  it('gives attachments to the model in its format: text inline, images as images', async () => {
    model.script([{ text: 'Seen.' }]);
    const before = model.requests.length;
    const pixel = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    await rt().agent.run('coder', 'Look at these', {
      attachments: [
        { name: 'todo.md', mediaType: 'text/markdown', content: '- ship it' },
        { name: 'dot.png', mediaType: 'image/png', content: pixel },
      ],
    });
    const user = sentMessages(model.requests[before]).find((message) => message.role === 'user');
    const parts = user?.content as { type: string; text?: string; image_url?: { url: string } }[];
    expect(parts.find((part) => part.type === 'text' && part.text?.includes('- ship it'))?.text).toContain('todo.md');
    expect(parts.find((part) => part.type === 'image_url')?.image_url?.url).toBe(
      `data:image/png;base64,${pixel.toString('base64')}`,
    );

    // A run's body may carry more than the default 1 MiB limit of other routes.
    model.script([{ text: 'Read it.' }]);
    const large = Buffer.alloc(3 * 1024 * 1024, 'a');
    const run = await rt().agent.run('coder', 'Summarize', {
      attachments: [{ name: 'big.txt', mediaType: 'text/plain', content: large }],
    });
    expect(run.status).toBe('completed');
    expect(model.requests.at(-1)?.rawBody.length).toBeGreaterThan(large.length);
    const [start] = await collect(rt().agent.events(run.id));
    expect(start).toMatchObject({
      type: 'start',
      attachments: [{ name: 'big.txt', mediaType: 'text/plain', size: large.length }],
    });
    const tooLarge = await server().request('POST', '/v1/secrets', {
      body: { name: 'BIG', value: large.toString() },
    });
    expect(tooLarge.status).toBe(413);
  });

  it('acts as its caller is now: a key revoked during a run stops it at its next tool call', async () => {
    await rt().agents.create({ slug: 'revocable', model: 'mock/revocable', sandbox: box.id, tools: ['bash'] });
    const key = await rt().auth.keys.create({
      name: 'runner',
      scopes: ['agents:*', 'sandboxes:write', 'secrets:read'],
    });
    const runner = new RunTools({ apiKey: key.key, baseUrl: server().url });
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'echo ran > /root/after-revoke' } }], delayMs: 200 },
      { text: 'done' },
    ]);
    const started = await runner.agent.start('revocable', 'write it');
    await rt().auth.keys.revoke(key.id);
    const events = await collect(rt().agent.events(started.id));
    expect(events.find((event) => event.type === 'error')).toMatchObject({ code: 'api_key_revoked' });
    expect((await rt().agent.get(started.id)).status).toBe('failed');
    expect(await box.files.exists('/root/after-revoke')).toBe(false);
    model.reset();
  });

  it('stops at maxIterations, fails on a model error, and cancels a run in progress', async () => {
    await rt().agents.create({ slug: 'looper', model: 'mock/loop', sandbox: box.id, maxIterations: 2 });
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'true' } }] },
      { toolCalls: [{ name: 'bash', input: { command: 'true' } }] },
      { text: 'never reached' },
    ]);
    const limited = await rt().agent.run('looper', 'loop');
    expect(limited).toMatchObject({ status: 'max_iterations', stopReason: 'max_iterations', steps: 2 });
    model.reset();

    model.script([{ error: { status: 401, message: 'invalid api key' } }]);
    const failed = await rt().agent.run('looper', 'fail', { thread: true });
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'model_auth_failed' } });
    expect(failed.error?.message).toContain('invalid api key');
    const failedEvents = await collect(rt().agent.events(failed.id));
    expect(failedEvents.map((event) => event.type).slice(-2)).toEqual(['error', 'done']);
    // It did nothing, so its thread holds nothing: trying the same prompt again does not repeat it.
    expect(await rt().threads.messages(failed.threadId as string)).toEqual([]);

    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'true' } }], usage: { input: 7, output: 3 } },
      { text: 'slow answer', delayMs: 30_000 },
    ]);
    const started = await rt().agent.start('looper', 'take your time', { thread: true });
    // While it runs, it shows the steps and tokens so far.
    await expect
      .poll(async () => rt().agent.get(started.id))
      .toMatchObject({ status: 'running', steps: 1, usage: { inputTokens: 7, outputTokens: 3 } });
    // Awaited while it runs: the events so far (its first step's), without waiting for its end.
    const soFar = await rt().agent.events(started.id);
    expect(soFar.map((event) => event.type)).toContain('tool-result');
    expect(soFar.some((event) => event.type === 'done')).toBe(false);
    const cancelled = await rt().agent.cancel(started.id);
    expect(cancelled).toMatchObject({ status: 'cancelled' });
    expect((await collect(rt().agent.events(started.id))).at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
    expect((await rt().agent.events(started.id)).at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
    await expect(rt().agent.cancel(started.id)).rejects.toMatchObject({ code: 'run_finished', status: 409 });
    // The step it finished stays in its thread (the prompt, the call, its result); the answer cut short does not.
    const kept = await rt().threads.messages(cancelled.threadId as string);
    expect(kept.map((message) => [message.role, message.runId])).toEqual([
      ['user', started.id],
      ['assistant', started.id],
      ['tool', started.id],
    ]);
  });

  it('resumes a run the server stopped during from its last finished step', async () => {
    await rt().agents.create({ slug: 'resumer', model: 'mock/resume', sandbox: box.id, tools: ['bash'] });
    await box.exec('rm -f /root/resume-steps');
    model.reset();
    model.script([
      {
        toolCalls: [{ name: 'bash', input: { command: 'echo ran >> /root/resume-steps' } }],
        usage: { input: 10, output: 5 },
      },
      // In flight when the server stops: never answered, so asked again by the server that resumes the run.
      { text: 'cut short', delayMs: 60_000 },
      { text: 'Resumed and done.', usage: { input: 20, output: 4 } },
    ]);
    const started = await rt().agent.start('resumer', 'run it once, then answer', { thread: true });
    await expect.poll(async () => (await rt().agent.get(started.id)).steps).toBe(1);
    await expect.poll(() => model.requests.length).toBe(2);
    await fixture.restart();
    await expect.poll(async () => (await rt().agent.get(started.id)).status, { timeout: 30_000 }).toBe('completed');
    expect(await rt().agent.get(started.id)).toMatchObject({
      text: 'Resumed and done.',
      steps: 2,
      usage: { inputTokens: 30, outputTokens: 9, totalTokens: 39 },
      error: null,
    });
    // One stream across both servers: seq 1..n without a gap, the finished step not done again.
    const events = await collect(rt().agent.events(started.id));
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.map((event) => event.type).filter((type) => type !== 'text-delta')).toEqual([
      'start',
      'tool-call',
      'tool-result',
      'step',
      'resumed',
      'step',
      'done',
    ]);
    expect(events.find((event) => event.type === 'resumed')).toMatchObject({ step: 1, sandboxId: box.id });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed', steps: 2, usage: { inputTokens: 30 } });
    // (The Sandbox object talks to the server it came from: get it again from the new one.)
    const sandbox = await rt().sandboxes.get(box.id);
    expect((await sandbox.exec('cat /root/resume-steps')).stdout).toBe('ran\n');
    // The resumed request carried the finished step (the call and its result) after the prompt.
    const resumed = sentMessages(model.requests.at(-1));
    expect(resumed.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    // The thread holds the run's messages once.
    const messages = await rt().threads.messages(started.threadId as string);
    expect(messages.map((message) => [message.role, message.runId])).toEqual([
      ['user', started.id],
      ['assistant', started.id],
      ['tool', started.id],
      ['assistant', started.id],
    ]);
    expect(model.remaining).toBe(0);
    model.reset();
  });

  it('leaves a run another live server holds alone across a restart, and takes it over once that lease expires', async () => {
    model.reset();
    model.script([
      { text: 'never finished here', delayMs: 60_000 },
      { text: 'Taken over.', usage: { input: 3, output: 2 } },
    ]);
    const started = await rt().agent.start('resumer', 'wait for me');
    await expect.poll(() => model.requests.length).toBe(1);
    const db = () => server().running.db.kysely;
    // Its start event stored (events are written every 50 ms), so what follows it is a resumption.
    await expect
      .poll(async () => db().selectFrom('run_events').select('type').where('run_id', '=', started.id).execute())
      .toEqual([{ type: 'start' }]);
    // Another control plane on the same database holds it now, with a lease far from expiring.
    const farAway = new Date(Date.now() + 60 * 60_000).toISOString();
    await db()
      .updateTable('agent_runs')
      .set({ owner: 'someone-else', lease_expires_at: farAway })
      .where('id', '=', started.id)
      .execute();
    await fixture.restart();
    const storedBefore = (await rt().agent.events(started.id)).length;
    // Several sweeps of the new server (every half lease, 1.5 s here) pass without touching it.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(
      await db()
        .selectFrom('agent_runs')
        .select(['status', 'owner', 'lease_expires_at'])
        .where('id', '=', started.id)
        .executeTakeFirst(),
    ).toEqual({ status: 'running', owner: 'someone-else', lease_expires_at: farAway });
    expect(await rt().agent.events(started.id)).toHaveLength(storedBefore);
    expect(model.requests).toHaveLength(1);

    // Its holder stops renewing: once the lease has expired, this server resumes the run.
    await db()
      .updateTable('agent_runs')
      .set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', started.id)
      .execute();
    await expect.poll(async () => (await rt().agent.get(started.id)).status, { timeout: 30_000 }).toBe('completed');
    expect(await rt().agent.get(started.id)).toMatchObject({ text: 'Taken over.', steps: 1 });
    const events = await collect(rt().agent.events(started.id));
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.find((event) => event.type === 'resumed')).toMatchObject({ step: 0 });
    expect(
      await db()
        .selectFrom('agent_runs')
        .select(['owner', 'lease_expires_at'])
        .where('id', '=', started.id)
        .executeTakeFirst(),
    ).toEqual({ owner: null, lease_expires_at: null });
    model.reset();
  });

  it('cancels a run another server holds: that server stops it at its next lease renewal', async () => {
    model.reset();
    model.script([{ text: 'slow', delayMs: 60_000 }]);
    const started = await rt().agent.start('resumer', 'take long');
    await expect.poll(() => model.requests.length).toBe(1);
    const db = () => server().running.db.kysely;
    // Seen from another server: asked in the database, then ended by the holder, which is this one.
    await db()
      .updateTable('agent_runs')
      .set({ cancel_requested_at: new Date().toISOString() })
      .where('id', '=', started.id)
      .execute();
    await expect.poll(async () => (await rt().agent.get(started.id)).status, { timeout: 10_000 }).toBe('cancelled');
    expect((await collect(rt().agent.events(started.id))).at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
    model.reset();
  });

  it('runs a managed agent in a sandbox of its own per run, and per thread when asked', async () => {
    await rt().agents.create({
      slug: 'managed',
      model: 'mock/managed',
      sandbox: { template: 'minimal', runtime: 'container' },
    });
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'hostname > /root/h; cat /root/h' } }] },
      { text: 'done' },
    ]);
    const run = await rt().agent.run('managed', 'where are you?');
    expect(run.status).toBe('completed');
    expect(run.sandboxId).toMatch(/^sbx_/);
    expect(run.sandboxId).not.toBe(box.id);
    // Cleaned up once the run has answered.
    await expect.poll(async () => (await rt().sandboxes.get(run.sandboxId as string)).status).toBe('destroyed');

    // Workspaces mounted into the managed sandbox: the agent works there, and its files outlive the sandbox.
    const workspace = await rt().workspaces.create({ name: 'agent-output' });
    await rt().agents.create({
      slug: 'managed-workspace',
      model: 'mock/managed',
      sandbox: {
        template: 'minimal',
        runtime: 'container',
        // By its slug: resolved to the workspace when each run's sandbox is made.
        mounts: [{ workspaceId: workspace.slug, path: '/workspace' }],
      },
    });
    model.script([
      { toolCalls: [{ name: 'write_file', input: { path: 'report.md', content: '# done\n' } }] },
      { text: 'ok' },
    ]);
    const written = await rt().agent.run('managed-workspace', 'write the report');
    const [write] = results(await collect(rt().agent.events(written.id)));
    expect(write?.output).toMatchObject({ path: '/workspace/report.md' });
    await expect.poll(async () => (await rt().sandboxes.get(written.sandboxId as string)).status).toBe('destroyed');
    expect((await rt().sandboxes.get(written.sandboxId as string)).info.mounts).toEqual([
      { workspaceId: workspace.id, path: '/workspace' },
    ]);
    expect(await rt().workspaces.files(workspace.id).read('report.md')).toBe('# done\n');

    await rt().agents.create({
      slug: 'managed-thread',
      model: 'mock/managed',
      sandbox: { template: 'minimal', runtime: 'container', scope: 'thread', cleanup: 'destroy' },
    });
    model.script([
      { toolCalls: [{ name: 'bash', input: { command: 'echo kept > /root/state' } }] },
      { text: 'saved' },
      { toolCalls: [{ name: 'bash', input: { command: 'cat /root/state' } }] },
      { text: 'read' },
    ]);
    const first = await rt().agent.run('managed-thread', 'save', { thread: true });
    const second = await rt().agent.run('managed-thread', 'read', { thread: first.threadId as string });
    expect(second.sandboxId).toBe(first.sandboxId);
    const [read] = results(await collect(rt().agent.events(second.id)));
    expect(read?.output).toMatchObject({ stdout: 'kept\n' });
    expect((await rt().sandboxes.get(first.sandboxId as string)).status).toBe('running');
    // Deleting the thread destroys its sandbox: a key that may not destroy sandboxes may not do it this way.
    const agentsOnly = await rt().auth.keys.create({ name: 'agents only', scopes: ['agents:*'] });
    const refused = await server().request('DELETE', `/v1/threads/${first.threadId}`, { key: agentsOnly.key });
    expect(refused.status).toBe(403);
    expect((await rt().sandboxes.get(first.sandboxId as string)).status).toBe('running');
    await rt().threads.delete(first.threadId as string);
    await expect.poll(async () => (await rt().sandboxes.get(first.sandboxId as string)).status).toBe('destroyed');

    // Without a thread there is nothing to reuse the sandbox for: it goes after the run, as scope run's do.
    model.script([{ text: 'alone' }]);
    const alone = await rt().agent.run('managed-thread', 'no thread');
    await expect.poll(async () => (await rt().sandboxes.get(alone.sandboxId as string)).status).toBe('destroyed');
  });
});
