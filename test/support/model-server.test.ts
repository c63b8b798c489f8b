import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, isStepCount, type LanguageModel, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ModelProtocol, type ModelServer, type RecordedRequest, startModelServer } from './model-server.js';

/**
 * The model server is only worth something if the real AI SDK providers accept what it sends and send what it
 * expects, so these tests drive it through them: the provider kinds the platform builds (see
 * apps/server/src/agents/models.ts), with the provider options it passes.
 */

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

interface ProviderCase {
  name: string;
  protocol: ModelProtocol;
  /** Whether the provider surfaces reasoning (@ai-sdk/openai's chat model has no reasoning over Chat Completions). */
  reasoning: boolean;
  path: string;
  model(apiKey: string): LanguageModel;
  /** What the platform's run loop passes for this provider (see providerOptionsFor in the run service). */
  providerOptions?: NonNullable<Parameters<typeof streamText>[0]['providerOptions']>;
}

/** The provider options the platform passes with this provider, to spread into a call. */
const optionsOf = (provider: ProviderCase) =>
  provider.providerOptions ? { providerOptions: provider.providerOptions } : {};

const providers: ProviderCase[] = [
  {
    name: 'openai-compatible',
    protocol: 'openai',
    reasoning: true,
    path: '/v1/chat/completions',
    // includeUsage as the platform sets it: without it the SDK asks for no usage and OpenAI sends none.
    model: (apiKey) =>
      createOpenAICompatible({ name: 'local', baseURL: server.openaiBaseUrl, apiKey, includeUsage: true })(
        'local-model',
      ),
  },
  {
    name: 'openai (chat)',
    protocol: 'openai',
    reasoning: false,
    path: '/v1/chat/completions',
    model: (apiKey) => createOpenAI({ baseURL: server.openaiBaseUrl, apiKey }).chat('gpt-4o'),
  },
  {
    // OpenAI's own models (createOpenAI()(id)) go over the Responses API.
    name: 'openai (responses)',
    protocol: 'openai-responses',
    reasoning: true,
    path: '/v1/responses',
    model: (apiKey) => createOpenAI({ baseURL: server.openaiBaseUrl, apiKey })('gpt-5'),
    providerOptions: { openai: { reasoningSummary: 'auto', store: false } },
  },
  {
    name: 'anthropic',
    protocol: 'anthropic',
    reasoning: true,
    path: '/v1/messages',
    model: (apiKey) => createAnthropic({ baseURL: server.anthropicBaseUrl, apiKey })('claude-sonnet-4-5'),
  },
];

/** streamText logs every error part to the console unless told otherwise; these tests expect theirs. */
const quiet = { onError: () => {} };

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const parts: T[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

function weatherTool(calls: string[]) {
  return tool({
    description: 'The weather forecast for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return { city, forecast: 'sunny' };
    },
  });
}

function request(index: number): RecordedRequest {
  const recorded = server.requests[index];
  if (!recorded) throw new Error(`no request #${index} (${server.requests.length} recorded)`);
  return recorded;
}

describe.each(providers)('$name', (provider) => {
  it('streams text in pieces and reports usage', async () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    server.script([{ text, usage: { input: 21, output: 11 } }]);
    const result = streamText({
      model: provider.model('sk-test'),
      ...optionsOf(provider),
      prompt: 'Say something.',
      maxRetries: 0,
    });
    const parts = await collect(result.stream);

    const deltas = parts.flatMap((part) => (part.type === 'text-delta' && part.text !== '' ? [part.text] : []));
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(text);
    const finish = parts.find((part) => part.type === 'finish');
    expect(finish?.finishReason).toBe('stop');
    expect(finish?.totalUsage).toMatchObject({ inputTokens: 21, outputTokens: 11 });
    expect(server.remaining).toBe(0);
    const sent = request(0);
    expect(sent).toMatchObject({ protocol: provider.protocol, path: provider.path, stream: true });
    if (provider.protocol === 'openai') expect(sent.body.stream_options).toEqual({ include_usage: true });
  });

  it("runs a tool and sends its result back in the provider's format", async () => {
    const id = provider.protocol === 'anthropic' ? 'toolu_weather1' : 'call_weather1';
    server.script([
      { text: 'Let me look.', toolCalls: [{ id, name: 'weather', input: { city: 'Paris' } }] },
      { text: 'Sunny in Paris.' },
    ]);
    const calls: string[] = [];
    const result = streamText({
      model: provider.model('sk-test'),
      ...optionsOf(provider),
      prompt: 'Weather in Paris?',
      tools: { weather: weatherTool(calls) },
      stopWhen: isStepCount(3),
      maxRetries: 0,
    });
    const parts = await collect(result.stream);

    expect(calls).toEqual(['Paris']);
    expect(parts.filter((part) => part.type === 'tool-input-delta').length).toBeGreaterThan(1);
    expect(parts.find((part) => part.type === 'tool-result')).toMatchObject({
      toolCallId: id,
      output: { city: 'Paris', forecast: 'sunny' },
    });
    expect(await result.text).toBe('Sunny in Paris.');
    expect(server.requests).toHaveLength(2);
    const first = request(0).body;
    const second = request(1).body;
    const output = JSON.stringify({ city: 'Paris', forecast: 'sunny' });
    if (provider.protocol === 'openai') {
      expect(first.tools).toMatchObject([
        {
          type: 'function',
          function: { name: 'weather', description: 'The weather forecast for a city', parameters: { type: 'object' } },
        },
      ]);
      expect(second.messages).toEqual([
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [{ id, type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: id, content: output },
      ]);
    } else if (provider.protocol === 'openai-responses') {
      expect(first.tools).toMatchObject([
        {
          type: 'function',
          name: 'weather',
          description: 'The weather forecast for a city',
          parameters: { type: 'object' },
        },
      ]);
      // Without server-side storage (store: false) every item goes back whole, not as a reference.
      expect(second.input).toEqual([
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: 'Let me look.' },
        { type: 'function_call', call_id: id, name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: id, output },
      ]);
    } else {
      expect(first.tools).toMatchObject([
        { name: 'weather', description: 'The weather forecast for a city', input_schema: { type: 'object' } },
      ]);
      expect(second.messages).toEqual([
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me look.' },
            { type: 'tool_use', id, name: 'weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: output }] },
      ]);
    }
  });

  it('streams thinking as reasoning deltas and hands it back with the tool result', async () => {
    const thinking = 'The user wants the weather; I should call the tool.';
    server.script([
      { thinking, toolCalls: [{ name: 'weather', input: { city: 'Oslo' } }] },
      { thinking: 'Now answer.', text: 'Cloudy.' },
    ]);
    const calls: string[] = [];
    const result = streamText({
      model: provider.model('sk-test'),
      ...optionsOf(provider),
      prompt: 'Weather in Oslo?',
      tools: { weather: weatherTool(calls) },
      stopWhen: isStepCount(3),
      maxRetries: 0,
    });
    const parts = await collect(result.stream);

    expect(calls).toEqual(['Oslo']);
    expect(await result.text).toBe('Cloudy.');
    const reasoning = parts.filter((part) => part.type === 'reasoning-delta');
    const history = (request(1).body.messages ?? request(1).body.input) as unknown[];
    const assistant = history[1];
    if (!provider.reasoning) {
      // OpenAI's own Chat Completions never carries reasoning, so @ai-sdk/openai ignores reasoning_content.
      expect(reasoning).toEqual([]);
      expect(assistant).not.toHaveProperty('reasoning_content');
      return;
    }
    const firstStep = reasoning.map((part) => part.text).join('');
    expect(firstStep.startsWith(thinking)).toBe(true);
    expect(reasoning.filter((part) => part.text !== '').length).toBeGreaterThan(3);
    if (provider.protocol === 'openai') {
      // openai-compatible sends the reasoning back as reasoning_content (what DeepSeek's API asks for).
      expect(assistant).toMatchObject({ role: 'assistant', reasoning_content: thinking });
    } else if (provider.protocol === 'openai-responses') {
      // The reasoning item goes back with its encrypted content (asked for, as nothing is stored at OpenAI).
      expect(request(0).body).toMatchObject({
        reasoning: { summary: 'auto' },
        include: ['reasoning.encrypted_content'],
      });
      expect(history.slice(1)).toEqual([
        {
          type: 'reasoning',
          id: expect.stringMatching(/^rs_/),
          encrypted_content: expect.any(String),
          summary: [{ type: 'summary_text', text: thinking }],
        },
        {
          type: 'function_call',
          call_id: expect.stringMatching(/^call_/),
          name: 'weather',
          arguments: '{"city":"Oslo"}',
        },
        { type: 'function_call_output', call_id: expect.any(String), output: expect.any(String) },
      ]);
    } else {
      // Anthropic needs the thinking block back, signature and all, before the tool_use it led to.
      const signature = reasoning.map((part) => part.providerMetadata?.anthropic?.signature).find(Boolean);
      expect(signature).toEqual(expect.any(String));
      expect(assistant).toEqual({
        role: 'assistant',
        content: [
          { type: 'thinking', thinking, signature },
          { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'weather', input: { city: 'Oslo' } },
        ],
      });
    }
  });

  it('answers non-streaming requests too (generateText)', async () => {
    server.script([
      { toolCalls: [{ name: 'weather', input: { city: 'Rome' } }], usage: { input: 30, output: 5 } },
      { text: 'Warm in Rome.', usage: { input: 40, output: 4 } },
    ]);
    const calls: string[] = [];
    const result = await generateText({
      model: provider.model('sk-test'),
      ...optionsOf(provider),
      prompt: 'Weather in Rome?',
      tools: { weather: weatherTool(calls) },
      stopWhen: isStepCount(3),
      maxRetries: 0,
    });

    expect(calls).toEqual(['Rome']);
    expect(result.text).toBe('Warm in Rome.');
    expect(result.usage).toMatchObject({ inputTokens: 70, outputTokens: 9 });
    expect(server.requests.map((sent) => sent.stream)).toEqual([false, false]);
  });

  it('surfaces an error turn as an APICallError with its status and message', async () => {
    server.script([{ error: { status: 429, message: 'Rate limit reached for requests' } }]);
    const parts = await collect(
      streamText({ model: provider.model('sk-test'), ...optionsOf(provider), prompt: 'Hi', maxRetries: 0, ...quiet })
        .stream,
    );

    const error = parts.find((part) => part.type === 'error')?.error;
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 429, message: 'Rate limit reached for requests', isRetryable: true });
    const body = JSON.parse((error as APICallError).responseBody ?? '');
    if (provider.protocol !== 'anthropic')
      expect(body).toEqual({
        error: {
          message: 'Rate limit reached for requests',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      });
    else
      expect(body).toMatchObject({
        type: 'error',
        error: { type: 'rate_limit_error', message: 'Rate limit reached for requests' },
      });
  });

  it('retries a 500 and honours retry-after-ms', async () => {
    server.script([
      { error: { status: 500, message: 'The server had an error', headers: { 'retry-after-ms': '0' } } },
      { text: 'Recovered.' },
    ]);
    const result = streamText({ model: provider.model('sk-test'), ...optionsOf(provider), prompt: 'Hi' });
    expect(await result.text).toBe('Recovered.');
    expect(server.requests).toHaveLength(2);
  });

  it('sends the configured key and is refused with another', async () => {
    server.requireKey('sk-right-key');
    server.script([{ text: 'Welcome.' }]);
    const refused = await collect(
      streamText({
        model: provider.model('sk-wrong-key'),
        ...optionsOf(provider),
        prompt: 'Hi',
        maxRetries: 0,
        ...quiet,
      }).stream,
    );
    expect(refused.find((part) => part.type === 'error')?.error).toMatchObject({
      statusCode: 401,
      message: provider.protocol === 'anthropic' ? 'invalid x-api-key' : expect.stringContaining('Incorrect API key'),
    });
    expect(server.remaining).toBe(1);

    const accepted = streamText({
      model: provider.model('sk-right-key'),
      ...optionsOf(provider),
      prompt: 'Hi',
      maxRetries: 0,
    });
    expect(await accepted.text).toBe('Welcome.');
    expect(server.requests.map((sent) => sent.apiKey)).toEqual(['sk-wrong-key', 'sk-right-key']);
    const headers = request(1).headers;
    if (provider.protocol === 'anthropic') {
      expect(headers['x-api-key']).toBe('sk-right-key');
      expect(headers['anthropic-version']).toBe('2023-06-01');
    } else expect(headers.authorization).toBe('Bearer sk-right-key');
  });

  it('fails loudly, and fast, when the script runs out', async () => {
    const parts = await collect(
      streamText({ model: provider.model('sk-test'), ...optionsOf(provider), prompt: 'Hi', ...quiet }).stream,
    );
    const error = parts.find((part) => part.type === 'error')?.error;
    // The SDK retries the 500 twice (immediately, because of retry-after-ms: 0), then gives up.
    expect(String(error)).toContain('no scripted turn left');
    expect(server.requests).toHaveLength(3);
  });
});

describe('in-stream errors', () => {
  // The Responses API's error event carries a code, not an HTTP status.
  it.each([
    {
      name: 'Anthropic overloaded_error',
      status: 529,
      model: () => createAnthropic({ baseURL: server.anthropicBaseUrl, apiKey: 'sk-test' })('claude-sonnet-4-5'),
      statusCode: 529,
    },
    {
      name: 'an OpenAI chat error frame',
      status: 500,
      model: () => createOpenAI({ baseURL: server.openaiBaseUrl, apiKey: 'sk-test' }).chat('gpt-4o'),
      statusCode: 500,
    },
    {
      name: 'a Responses API error event',
      status: 500,
      model: () => createOpenAI({ baseURL: server.openaiBaseUrl, apiKey: 'sk-test' })('gpt-5'),
      statusCode: undefined,
    },
  ])('$name before any output becomes an APICallError', async ({ status, model, statusCode }) => {
    server.script([{ error: { status, message: 'The model failed', inStream: true } }]);
    const parts = await collect(streamText({ model: model(), prompt: 'Hi', maxRetries: 0, ...quiet }).stream);
    const error = parts.find((part) => part.type === 'error')?.error;
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ message: 'The model failed', ...(statusCode ? { statusCode } : {}) });
  });
});

describe('model server', () => {
  it('records a client that goes away mid-stream as aborted', async () => {
    server.script([{ text: 'a long answer that trickles out slowly', chunkSize: 2, delayMs: 20 }]);
    const abort = new AbortController();
    const result = streamText({
      model: providers[0]?.model('sk-test') as LanguageModel,
      prompt: 'Hi',
      abortSignal: abort.signal,
      maxRetries: 0,
    });
    for await (const part of result.stream) if (part.type === 'text-delta' && part.text !== '') abort.abort();
    await expect.poll(() => request(0).aborted).toBe(true);
  });

  it('without include_usage sends no usage, as OpenAI does', async () => {
    server.script([{ text: 'Hello.' }]);
    const model = createOpenAICompatible({ name: 'bare', baseURL: server.openaiBaseUrl })('m');
    const result = streamText({ model, prompt: 'Hi', maxRetries: 0 });
    expect(await result.text).toBe('Hello.');
    expect(request(0).body).not.toHaveProperty('stream_options');
    expect((await result.usage).inputTokens).toBeUndefined();
    expect(request(0).apiKey).toBeUndefined();
  });

  it('answers an unknown path with 404 and a missing anthropic-version with 400, in the provider formats', async () => {
    const unknown = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { message: 'Unknown request URL: POST /v1/embeddings' } });
    const unversioned = await fetch(`${server.anthropicBaseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({ model: 'claude', max_tokens: 10, messages: [] }),
    });
    expect(unversioned.status).toBe(400);
    expect(await unversioned.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    expect(server.requests.map((sent) => sent.protocol)).toEqual(['unknown', 'anthropic']);
  });

  it('lets a responder answer from the request once the queue is empty', async () => {
    server.script([{ text: 'queued' }]);
    server.script((sent) => ({ text: `echo ${sent.protocol} ${String(sent.body.model)}` }));
    const model = createAnthropic({ baseURL: server.anthropicBaseUrl, apiKey: 'k' })('claude-sonnet-4-5');
    expect(await streamText({ model, prompt: 'Hi' }).text).toBe('queued');
    expect(await streamText({ model, prompt: 'Hi' }).text).toBe('echo anthropic claude-sonnet-4-5');
  });
});

/** Raw requests, as a client that builds its own history would send them. */
interface RawAnswer {
  status: number;
  body: { content?: Record<string, unknown>[]; output?: Record<string, unknown>[]; error?: { message: string } };
}

async function post(path: string, body: Record<string, unknown>): Promise<RawAnswer> {
  const response = await fetch(`${server.url}/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'm', max_tokens: 100, ...body }),
  });
  return { status: response.status, body: (await response.json()) as RawAnswer['body'] };
}

describe('histories the providers refuse', () => {
  const user = (text: string) => ({ role: 'user', content: [{ type: 'text', text }] });
  const toolUse = (id: string) => ({ type: 'tool_use', id, name: 'weather', input: { city: 'Oslo' } });
  const toolResult = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: 'sunny' });
  const anthropicError = (message: string) => ({
    status: 400,
    body: { type: 'error', error: { type: 'invalid_request_error', message } },
  });

  /** One Anthropic turn with thinking and a tool call; returns the assistant message a client should send back. */
  async function thinkingTurn() {
    server.script([{ thinking: 'Check the weather.', toolCalls: [{ id: 'toolu_01', name: 'weather', input: {} }] }]);
    const sent = await post('/messages', { messages: [user('Weather?')], thinking: { type: 'enabled' } });
    expect(sent.status).toBe(200);
    return { role: 'assistant', content: sent.body.content ?? [] };
  }

  it('Anthropic: a tool_use without its tool_result first in the next message', async () => {
    server.script([{ text: 'never served' }]);
    const history = [user('Weather?'), { role: 'assistant', content: [toolUse('toolu_a'), toolUse('toolu_b')] }];
    const message =
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_b. Each `tool_use` block must have a corresponding `tool_result` block in the next message.';
    // Answered only in part; answered after text; not answered at all.
    for (const next of [
      [toolResult('toolu_a')],
      [toolResult('toolu_a'), { type: 'text', text: 'and?' }, toolResult('toolu_b')],
    ])
      expect(await post('/messages', { messages: [...history, { role: 'user', content: next }] })).toMatchObject(
        anthropicError(message),
      );
    expect(await post('/messages', { messages: history })).toMatchObject(
      anthropicError(message.replace('toolu_b', 'toolu_a, toolu_b')),
    );
    // A refused request uses up no scripted turn.
    expect(server.remaining).toBe(1);
    expect(server.requests.map((sent) => sent.refused)).toEqual([
      message,
      message,
      message.replace('toolu_b', 'toolu_a, toolu_b'),
    ]);
    const answered = [...history, { role: 'user', content: [toolResult('toolu_a'), toolResult('toolu_b')] }];
    expect((await post('/messages', { messages: answered })).status).toBe(200);
  });

  it('Anthropic: a tool_result with no tool_use in the message before, and a role it does not know', async () => {
    expect(
      await post('/messages', {
        messages: [
          user('Hi'),
          { role: 'assistant', content: 'Hello' },
          { role: 'user', content: [toolResult('toolu_x')] },
        ],
      }),
    ).toMatchObject(
      anthropicError(
        'messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
      ),
    );
    expect(await post('/messages', { messages: [{ role: 'system', content: 'Be brief.' }, user('Hi')] })).toMatchObject(
      anthropicError("messages.0.role: Input should be 'user' or 'assistant'"),
    );
  });

  it('Anthropic: a thinking block altered or dropped on the way back', async () => {
    const assistant = await thinkingTurn();
    const [thinking, call] = assistant.content as [Record<string, unknown>, Record<string, unknown>];
    const next = { role: 'user', content: [toolResult('toolu_01')] };
    const send = (content: unknown[]) =>
      post('/messages', {
        messages: [user('Weather?'), { role: 'assistant', content }, next],
        thinking: { type: 'enabled' },
      });

    expect(await send([{ ...thinking, thinking: 'Check the weather!' }, call])).toMatchObject(
      anthropicError('messages.1.content.0: Invalid `signature` in `thinking` block'),
    );
    expect(await send([{ ...thinking, signature: 'forged' }, call])).toMatchObject(
      anthropicError('messages.1.content.0: Invalid `signature` in `thinking` block'),
    );
    expect((await send([call])).body.error?.message).toMatch(
      /^messages\.1\.content\.0\.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`\. When `thinking` is enabled/,
    );
    server.script([{ text: 'Sunny.' }]);
    expect((await send([thinking, call])).status).toBe(200);
  });

  it('OpenAI: tool calls without their tool messages, and a tool message answering nothing', async () => {
    const openaiError = (message: string, param: string) => ({
      status: 400,
      body: { error: { message, type: 'invalid_request_error', param, code: null } },
    });
    const call = (id: string) => ({ id, type: 'function', function: { name: 'weather', arguments: '{}' } });
    const asked = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [call('call_a'), call('call_b')] },
    ];
    const missing = openaiError(
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_b",
      'messages.[1].role',
    );
    expect(
      await post('/chat/completions', { messages: [...asked, { role: 'tool', tool_call_id: 'call_a', content: 'x' }] }),
    ).toMatchObject(missing);
    expect(
      await post('/chat/completions', {
        messages: [...asked, { role: 'tool', tool_call_id: 'call_a', content: 'x' }, { role: 'user', content: 'and?' }],
      }),
    ).toMatchObject(missing);
    expect(
      await post('/chat/completions', {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'tool', tool_call_id: 'call_z', content: 'x' },
        ],
      }),
    ).toMatchObject(
      openaiError(
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        'messages.[1].role',
      ),
    );
    server.script([{ text: 'Sunny.' }]);
    const answered = ['call_a', 'call_b'].map((id) => ({ role: 'tool', tool_call_id: id, content: 'x' }));
    expect((await post('/chat/completions', { messages: [...asked, ...answered] })).status).toBe(200);
  });

  it('Responses API: a call without its output, an output without its call, and items it never sent', async () => {
    const refusal = (message: string) => ({ status: 400, body: { error: { message, type: 'invalid_request_error' } } });
    const call = { type: 'function_call', call_id: 'call_a', name: 'weather', arguments: '{}' };
    const output = { type: 'function_call_output', call_id: 'call_a', output: 'sunny' };
    const question = { role: 'user', content: [{ type: 'input_text', text: 'Weather?' }] };
    expect(await post('/responses', { input: [question, call] })).toMatchObject(
      refusal('No tool output found for function call call_a.'),
    );
    expect(await post('/responses', { input: [question, output] })).toMatchObject(
      refusal('No tool call found for function call output with call_id call_a.'),
    );
    expect(await post('/responses', { input: [question, { type: 'item_reference', id: 'rs_never' }] })).toMatchObject(
      refusal(
        "Item with id 'rs_never' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.",
      ),
    );

    // Reasoning sent with its encrypted content comes back with it unaltered, or is refused.
    server.script([{ thinking: 'Think.', toolCalls: [{ id: 'call_b', name: 'weather', input: {} }] }]);
    const first = await post('/responses', { input: [question], include: ['reasoning.encrypted_content'] });
    const [reasoning, functionCall] = first.body.output as [Record<string, unknown>, Record<string, unknown>];
    const answer = { type: 'function_call_output', call_id: 'call_b', output: 'sunny' };
    const altered = { ...reasoning, encrypted_content: `${String(reasoning.encrypted_content)}x` };
    expect(await post('/responses', { input: [question, altered, functionCall, answer] })).toMatchObject(
      refusal(`The encrypted content for item ${String(reasoning.id)} could not be verified.`),
    );
    server.script([{ text: 'Sunny.' }, { text: 'Sunny again.' }]);
    expect((await post('/responses', { input: [question, reasoning, functionCall, answer] })).status).toBe(200);
    const byReference = [
      question,
      { type: 'item_reference', id: reasoning.id },
      { type: 'item_reference', id: functionCall.id },
      answer,
    ];
    expect((await post('/responses', { input: byReference })).status).toBe(200);
  });
});
