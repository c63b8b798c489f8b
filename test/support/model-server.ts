import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A stand-in for model providers over loopback: it speaks the real wire protocols (OpenAI Chat Completions, the
 * OpenAI Responses API and Anthropic Messages, streaming and not) and answers each request with the next scripted
 * turn, so the agent loop runs through the unmodified AI SDK providers (their request building, SSE parsing and
 * error handling) without the internet. Only node built-ins, so it can run inside any test process.
 *
 * Point a provider at it with `baseURL: server.openaiBaseUrl` (createOpenAI / createOpenAICompatible) or
 * `baseURL: server.anthropicBaseUrl` (createAnthropic); the path after the base decides the protocol
 * (`…/chat/completions`, `…/responses` or `…/messages`).
 *
 * It refuses, with the provider's own 400, the histories the providers refuse (see `validateAnthropic`,
 * `validateOpenai`, `validateResponses`): a tool call without its result in the next turn, a result without its
 * call, and a thinking block or encrypted reasoning not returned exactly as it was sent. A loop that builds such a
 * history fails here as it would against the real API.
 */

/** The provider protocol a request spoke, told by its path (`…/chat/completions`, `…/responses`, `…/messages`). */
export type ModelProtocol = 'openai' | 'openai-responses' | 'anthropic';

export interface ScriptedToolCall {
  /** Defaults to a provider-style id (`call_…` for OpenAI, `toolu_…` for Anthropic). */
  id?: string;
  name: string;
  /** The tool's arguments: sent as a JSON string (OpenAI) or JSON object (Anthropic), streamed in pieces. */
  input: unknown;
}

/** A successful model turn. Content goes out in the order a real model produces it: thinking, text, tool calls. */
export interface ScriptedReply {
  error?: never;
  text?: string;
  /**
   * Reasoning: an Anthropic `thinking` block (with a signature); over Chat Completions, `reasoning_content`
   * deltas (the DeepSeek/vLLM extension that @ai-sdk/openai-compatible reads; @ai-sdk/openai's chat model ignores it,
   * as OpenAI itself never sends reasoning over Chat Completions); over the Responses API a `reasoning` item, whose
   * summary carries the text only when the request asked for one (`reasoning.summary`), as OpenAI does.
   */
  thinking?: string;
  /** The Anthropic thinking signature; defaults to a hash of the thinking, so it is stable across runs. */
  signature?: string;
  toolCalls?: ScriptedToolCall[];
  /** Defaults to `tool_calls` when there are tool calls, else `stop`; sent as the provider's own stop reason. */
  finish?: 'stop' | 'tool_calls' | 'length';
  /** Token counts to report; defaults to a rough estimate (4 characters a token) so usage is never empty. */
  usage?: { input: number; output: number };
  /** Pause before every streamed event (or before the JSON body), for tests of slow models, timeouts and aborts. */
  delayMs?: number;
  /** Characters per streamed delta (text, thinking, tool arguments); default 8, so deltas arrive in pieces. */
  chunkSize?: number;
}

/** A failed turn, in the provider's own error format. */
export interface ScriptedError {
  error: {
    status: number;
    message: string;
    /** The provider's error type; defaults from the status (e.g. 429 → `rate_limit_error` / `requests`). */
    type?: string;
    /** OpenAI's `error.code`; defaults from the status (e.g. 401 → `invalid_api_key`). */
    code?: string;
    /** OpenAI's `error.param`: the request field at fault (`messages.[3].role`). */
    param?: string;
    /** Extra response headers, e.g. `{ 'retry-after-ms': '0' }` (the AI SDK honours retry-after headers). */
    headers?: Record<string, string>;
    /**
     * For a streaming request: answer 200 and send the error as the first stream event, as providers do when they
     * fail after accepting a request (Anthropic `event: error` such as `overloaded_error`, OpenAI `data: {"error":…}`).
     */
    inStream?: boolean;
  };
  delayMs?: number;
}

export type ScriptedTurn = ScriptedReply | ScriptedError;

/** Answers a request when the queue of scripted turns is empty; may inspect the request (its protocol, its body). */
export type Responder = (request: RecordedRequest) => ScriptedTurn | Promise<ScriptedTurn>;

export interface RecordedRequest {
  protocol: ModelProtocol | 'unknown';
  method: string;
  /** The path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The key the client presented: `x-api-key`, else the bearer token of `authorization`. */
  apiKey: string | undefined;
  /** The parsed JSON body (`{}` when it was not a JSON object; see rawBody). */
  body: Record<string, unknown>;
  rawBody: string;
  /** Whether the client asked for a stream (`"stream": true`). */
  stream: boolean;
  /** The turn that answered it; undefined when it was refused first (auth, bad request) or the script was empty. */
  turn: ScriptedTurn | undefined;
  /** Why the server refused the request's history as the provider would (its 400 message), if it did. */
  refused: string | undefined;
  /** Set when the client went away before the response was complete (an aborted stream). */
  aborted: boolean;
  /**
   * How long this server spent on the request, from its first byte to the end of the answer (ms): the
   * "model time" benchmarks subtract from a run's wall time. Undefined until the answer is complete.
   */
  durationMs: number | undefined;
}

export interface ModelServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `url + '/v1'`: the base URL for createOpenAI / createOpenAICompatible. */
  readonly openaiBaseUrl: string;
  /** `url + '/v1'`: the base URL for createAnthropic. */
  readonly anthropicBaseUrl: string;
  /** Every request received, in order, including refused ones. */
  readonly requests: RecordedRequest[];
  /** How many queued turns have not been served yet (0 at the end of a test that used all it scripted). */
  readonly remaining: number;
  /**
   * Queues turns (served first-in first-out, one per request, across calls) or sets the responder that answers once
   * the queue is empty. With neither, a request gets a 500 `no scripted turn left` so the test fails loudly.
   */
  script(turns: ScriptedTurn[] | Responder): void;
  /** Answers 401 in the provider's format unless the request presents this key; undefined accepts any. */
  requireKey(key: string | undefined): void;
  /** Forgets queued turns, the responder, the required key and the recorded requests (for a shared server). */
  reset(): void;
  close(): Promise<void>;
}

const defaultChunkSize = 8;

/** Starts a model server on a free loopback port. */
export async function startModelServer(): Promise<ModelServer> {
  const queue: ScriptedTurn[] = [];
  const requests: RecordedRequest[] = [];
  let responder: Responder | undefined;
  let requiredKey: string | undefined;
  // What this server sent that a client must hand back unaltered (kept across reset: they stay true).
  const issued: Issued = { signatures: new Map(), toolTurns: new Map(), items: new Map() };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const protocol = pathname.endsWith('/chat/completions')
      ? 'openai'
      : pathname.endsWith('/responses')
        ? 'openai-responses'
        : pathname.endsWith('/messages')
          ? 'anthropic'
          : 'unknown';
    const wire = protocol === 'anthropic' ? anthropic : protocol === 'openai-responses' ? openaiResponses : openai;
    const rawBody = await readBody(req);
    const parsed = parseJsonObject(rawBody);
    const record: RecordedRequest = {
      protocol,
      method: req.method ?? 'GET',
      path: pathname,
      headers: req.headers,
      apiKey: presentedKey(req.headers),
      body: parsed ?? {},
      rawBody,
      stream: parsed?.stream === true,
      turn: undefined,
      refused: undefined,
      aborted: false,
      durationMs: undefined,
    };
    requests.push(record);
    res.once('close', () => {
      if (!res.writableFinished) record.aborted = true;
      else record.durationMs = performance.now() - arrived;
    });

    if (protocol === 'unknown' || req.method !== 'POST') {
      sendError(res, wire, { status: 404, message: `Unknown request URL: ${req.method} ${pathname}` });
      return;
    }
    if (!parsed) {
      sendError(res, wire, { status: 400, message: wire.invalidJsonMessage });
      return;
    }
    // The real Anthropic API refuses a request without a version before looking at anything else.
    if (protocol === 'anthropic' && !req.headers['anthropic-version']) {
      sendError(res, wire, { status: 400, message: 'anthropic-version: header is required' });
      return;
    }
    // A bad key is refused before the model runs, so it does not use up a scripted turn.
    if (requiredKey !== undefined && record.apiKey !== requiredKey) {
      sendError(res, wire, wire.authError(record.apiKey));
      return;
    }
    // So is a history the provider would refuse.
    const invalid =
      protocol === 'anthropic'
        ? validateAnthropic(parsed, issued)
        : protocol === 'openai-responses'
          ? validateResponses(parsed, issued)
          : validateOpenai(parsed);
    if (invalid) {
      record.refused = invalid.message;
      sendError(res, wire, invalid);
      return;
    }

    let turn = queue.shift();
    if (!turn && responder) {
      try {
        turn = await responder(record);
      } catch (error) {
        sendError(res, wire, exhausted(`the responder failed: ${error instanceof Error ? error.message : error}`));
        return;
      }
    }
    if (!turn) {
      sendError(res, wire, exhausted('no scripted turn left'));
      return;
    }
    record.turn = turn;

    if (isError(turn)) {
      if (turn.delayMs) await sleep(turn.delayMs);
      if (turn.error.inStream && record.stream) {
        const events = new EventStream(res, 0);
        await events.send(wire.streamError(turn.error));
        events.end();
      } else sendError(res, wire, turn.error);
      return;
    }
    const reply = resolveReply(turn, protocol, record);
    remember(issued, protocol, reply);
    if (record.stream) {
      const events = new EventStream(res, turn.delayMs ?? 0);
      for (const event of wire.stream(reply)) {
        await events.send(event);
        if (events.closed) return;
      }
      events.end();
    } else {
      if (turn.delayMs) await sleep(turn.delayMs);
      sendJson(res, 200, wire.json(reply), { [wire.requestIdHeader]: requestId() });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Only a bug in this file lands here; answer something rather than leave the client hanging.
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error), type: 'server_error' } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: `${url}/v1`,
    requests,
    get remaining() {
      return queue.length;
    },
    script(turns) {
      if (typeof turns === 'function') responder = turns;
      else queue.push(...turns);
    },
    requireKey(key) {
      requiredKey = key;
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
      responder = undefined;
      requiredKey = undefined;
    },
    async close() {
      // fetch keeps connections alive; without closing them, close() would wait for their idle timeout.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * An empty script (or a failing responder) is a bug in the test: 500 so it surfaces, with `retry-after-ms: 0`
 * because the AI SDK retries a 500 twice and would otherwise back off for 6 s before reporting it.
 */
function exhausted(message: string): ScriptedError['error'] {
  return { status: 500, message, headers: { 'retry-after-ms': '0' } };
}

function isError(turn: ScriptedTurn): turn is ScriptedError {
  return turn.error !== undefined;
}

/** What the server sent that a client must hand back exactly as it was, to be checked when it comes back. */
interface Issued {
  /** Anthropic: each thinking signature sent, and the thinking it was sent with. */
  signatures: Map<string, string>;
  /** Anthropic: each tool_use id sent, and whether the turn that made it began with thinking. */
  toolTurns: Map<string, boolean>;
  /** Responses API: each output item sent, by id (a later request may name it by an `item_reference`). */
  items: Map<string, ResponsesItem>;
}

function remember(issued: Issued, protocol: ModelProtocol, reply: Reply): void {
  if (protocol === 'anthropic') {
    if (reply.thinking) issued.signatures.set(reply.signature, reply.thinking);
    for (const call of reply.toolCalls) issued.toolTurns.set(call.id, reply.thinking !== '');
  } else if (protocol === 'openai-responses') {
    for (const item of responsesItems(reply)) issued.items.set(item.id, item);
  }
}

/** A 400 as the provider words it (`param` is OpenAI's field at fault). */
function invalidRequest(message: string, param?: string): ScriptedError['error'] {
  return { status: 400, message, type: 'invalid_request_error', ...(param ? { param } : {}) };
}

type Block = Record<string, unknown> & { type?: unknown };

/**
 * Anthropic Messages, as the API checks a history: roles are `user` and `assistant` (consecutive turns of one role
 * are combined into one turn, as the API does); every `tool_use` is answered by a `tool_result` for its id at the
 * start of the next turn, and every `tool_result` answers a `tool_use` of the turn before; a `thinking` block comes
 * back exactly as it was sent (its signature verified); and with thinking enabled, the assistant turn of the tool
 * loop in progress starts with its thinking block. The messages are the API's own.
 */
function validateAnthropic(body: Record<string, unknown>, issued: Issued): ScriptedError['error'] | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return invalidRequest('messages: Field required');
  const turns: { role: string; first: number; last: number; blocks: { block: Block; at: string }[] }[] = [];
  for (const [index, message] of (messages as Record<string, unknown>[]).entries()) {
    const role = message?.role;
    if (role !== 'user' && role !== 'assistant') {
      return invalidRequest(`messages.${index}.role: Input should be 'user' or 'assistant'`);
    }
    const content = message.content;
    const blocks: Block[] = typeof content === 'string' ? [{ type: 'text', text: content }] : (content as Block[]);
    if (!Array.isArray(blocks)) return invalidRequest(`messages.${index}.content: Input should be a valid list`);
    const located = blocks.map((block, at) => ({ block, at: `messages.${index}.content.${at}` }));
    const previous = turns.at(-1);
    if (previous?.role === role) {
      previous.blocks.push(...located);
      previous.last = index;
    } else turns.push({ role, first: index, last: index, blocks: located });
  }
  for (const [position, turn] of turns.entries()) {
    if (turn.role === 'assistant') {
      for (const { block, at } of turn.blocks) {
        if (block.type !== 'thinking') continue;
        if (issued.signatures.get(String(block.signature)) !== block.thinking) {
          return invalidRequest(`${at}: Invalid \`signature\` in \`thinking\` block`);
        }
      }
      const uses = turn.blocks.filter(({ block }) => block.type === 'tool_use').map(({ block }) => String(block.id));
      if (uses.length === 0) continue;
      const next = turns[position + 1];
      const answered = new Set<string>();
      for (const { block } of next?.blocks ?? []) {
        if (block.type !== 'tool_result') break;
        answered.add(String(block.tool_use_id));
      }
      const missing = uses.filter((id) => !answered.has(id));
      if (missing.length > 0) {
        return invalidRequest(
          `messages.${turn.last}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    } else {
      const previous = turns[position - 1];
      const uses = new Set(
        (previous?.blocks ?? []).filter(({ block }) => block.type === 'tool_use').map(({ block }) => String(block.id)),
      );
      for (const { block, at } of turn.blocks) {
        if (block.type === 'tool_result' && !uses.has(String(block.tool_use_id))) {
          return invalidRequest(
            `${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
          );
        }
      }
    }
  }
  // The tool loop in progress: the last turn answers tool calls; the assistant turn that made them, if it began
  // with thinking when this server sent it, must begin with it still.
  const thinking = (body.thinking as { type?: unknown } | undefined)?.type;
  const last = turns.at(-1);
  const caller = turns.at(-2);
  if ((thinking === 'enabled' || thinking === 'adaptive') && last?.blocks[0]?.block.type === 'tool_result' && caller) {
    const madeWithThinking = caller.blocks.some(
      ({ block }) => block.type === 'tool_use' && issued.toolTurns.get(String(block.id)) === true,
    );
    const first = caller.blocks[0];
    if (madeWithThinking && first?.block.type !== 'thinking' && first?.block.type !== 'redacted_thinking') {
      return invalidRequest(
        `${first?.at ?? `messages.${caller.first}.content.0`}.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first?.block.type)}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`,
      );
    }
  }
  return undefined;
}

const openaiRoles = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/**
 * OpenAI Chat Completions (and the compatible servers, which copy its checks): every assistant message with
 * `tool_calls` is followed, before any other message, by a `tool` message for each call id, and a `tool` message
 * answers a call of the assistant message before it. The messages are OpenAI's own.
 */
function validateOpenai(body: Record<string, unknown>): ScriptedError['error'] | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return invalidRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages');
  }
  let calls: { index: number; ids: Set<string>; unanswered: Set<string> } | undefined;
  const unanswered = () =>
    calls && calls.unanswered.size > 0
      ? invalidRequest(
          `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...calls.unanswered].join(', ')}`,
          `messages.[${calls.index}].role`,
        )
      : undefined;
  for (const [index, message] of (messages as Record<string, unknown>[]).entries()) {
    const role = String(message?.role);
    if (!openaiRoles.has(role)) {
      return invalidRequest(
        `Invalid value: '${role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${index}].role`,
      );
    }
    if (role === 'tool') {
      const id = String(message.tool_call_id);
      if (!calls?.ids.has(id)) {
        return invalidRequest(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${index}].role`,
        );
      }
      calls.unanswered.delete(id);
      continue;
    }
    const refused = unanswered();
    if (refused) return refused;
    calls = undefined;
    const toolCalls = role === 'assistant' && Array.isArray(message.tool_calls) ? message.tool_calls : [];
    if (toolCalls.length > 0) {
      const ids = toolCalls.map((call: { id?: unknown }) => String(call?.id));
      calls = { index, ids: new Set(ids), unanswered: new Set(ids) };
    }
  }
  return unanswered();
}

/**
 * The Responses API: an `item_reference` names an item this server sent; a reasoning item's encrypted content is
 * the one sent with it, unaltered; every `function_call` has a `function_call_output` for its call id later in
 * the input, and every output answers a call before it (unless the calls are in `previous_response_id`).
 */
function validateResponses(body: Record<string, unknown>, issued: Issued): ScriptedError['error'] | undefined {
  if (!Array.isArray(body.input)) return undefined;
  const items: Record<string, unknown>[] = [];
  for (const item of body.input as Record<string, unknown>[]) {
    if (item?.type !== 'item_reference') {
      items.push(item);
      continue;
    }
    const found = issued.items.get(String(item.id));
    if (!found) {
      return invalidRequest(
        `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
        'input',
      );
    }
    items.push(found);
  }
  const called = new Set<string>();
  for (const item of items) {
    if (item.type === 'reasoning' && item.encrypted_content !== undefined) {
      const sent = issued.items.get(String(item.id));
      if (sent?.type !== 'reasoning' || sent.encrypted_content !== item.encrypted_content) {
        return invalidRequest(`The encrypted content for item ${String(item.id)} could not be verified.`);
      }
    }
    if (item.type === 'function_call') called.add(String(item.call_id));
    if (item.type === 'function_call_output' && !called.has(String(item.call_id)) && !body.previous_response_id) {
      return invalidRequest(
        `No tool call found for function call output with call_id ${String(item.call_id)}.`,
        'input',
      );
    }
  }
  const answered = new Set(
    items.filter((item) => item.type === 'function_call_output').map((item) => String(item.call_id)),
  );
  for (const id of called) {
    if (!answered.has(id)) return invalidRequest(`No tool output found for function call ${id}.`, 'input');
  }
  return undefined;
}

/** A reply with every default filled in, ready to be put on the wire. */
interface Reply {
  model: string;
  text: string;
  thinking: string;
  signature: string;
  toolCalls: { id: string; name: string; input: unknown; arguments: string }[];
  finish: 'stop' | 'tool_calls' | 'length';
  usage: { input: number; output: number };
  chunkSize: number;
  /** OpenAI sends the usage chunk only when the request set `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Responses API: the reasoning summary was asked for (`reasoning.summary`). */
  reasoningSummary: boolean;
  /** Responses API: the encrypted reasoning was asked for (`include: ["reasoning.encrypted_content"]`). */
  encryptedReasoning: boolean;
}

function resolveReply(turn: ScriptedReply, protocol: ModelProtocol, request: RecordedRequest): Reply {
  const text = turn.text ?? '';
  const thinking = turn.thinking ?? '';
  const toolCalls = (turn.toolCalls ?? []).map((call) => ({
    id: call.id ?? (protocol === 'anthropic' ? `toolu_${randomId()}` : `call_${randomId()}`),
    name: call.name,
    input: call.input,
    arguments: JSON.stringify(call.input ?? {}),
  }));
  const outputChars = text.length + thinking.length + toolCalls.reduce((sum, call) => sum + call.arguments.length, 0);
  const streamOptions = request.body.stream_options as { include_usage?: unknown } | undefined;
  const reasoning = request.body.reasoning as { summary?: unknown } | undefined;
  const include = Array.isArray(request.body.include) ? (request.body.include as unknown[]) : [];
  return {
    model: typeof request.body.model === 'string' ? request.body.model : 'scripted-model',
    text,
    thinking,
    signature: turn.signature ?? createHash('sha256').update(thinking).digest('base64'),
    toolCalls,
    finish: turn.finish ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
    usage: turn.usage ?? {
      input: Math.max(1, Math.ceil(request.rawBody.length / 4)),
      output: Math.max(1, Math.ceil(outputChars / 4)),
    },
    chunkSize: Math.max(1, turn.chunkSize ?? defaultChunkSize),
    includeUsage: streamOptions?.include_usage === true,
    reasoningSummary: typeof reasoning?.summary === 'string',
    encryptedReasoning: include.includes('reasoning.encrypted_content'),
  };
}

/** One server-sent event: Anthropic names each event (`event:` line), OpenAI sends bare `data:` lines. */
interface SseEvent {
  event?: string;
  data: string;
}

/** What differs between the two protocols. */
interface Wire {
  requestIdHeader: string;
  invalidJsonMessage: string;
  errorBody(error: ScriptedError['error']): unknown;
  authError(presented: string | undefined): ScriptedError['error'];
  streamError(error: ScriptedError['error']): SseEvent;
  stream(reply: Reply): Generator<SseEvent>;
  json(reply: Reply): unknown;
}

/** OpenAI Chat Completions (also what OpenAI-compatible servers such as vLLM, DeepSeek, Groq and Ollama speak). */
const openai: Wire = {
  requestIdHeader: 'x-request-id',
  invalidJsonMessage:
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",

  errorBody(error) {
    return {
      error: {
        message: error.message,
        type: error.type ?? openaiErrorType(error.status),
        param: error.param ?? null,
        code: error.code ?? openaiErrorCode(error.status),
      },
    };
  },

  authError(presented) {
    return presented
      ? {
          status: 401,
          message: `Incorrect API key provided: ${maskKey(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          code: 'invalid_api_key',
        }
      : {
          status: 401,
          message:
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
        };
  },

  streamError(error) {
    return { data: JSON.stringify(this.errorBody(error)) };
  },

  *stream(reply) {
    const base = {
      id: `chatcmpl-${randomId()}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: reply.model,
      service_tier: 'default',
      system_fingerprint: 'fp_scripted',
    };
    // With include_usage every chunk carries `usage: null` and one last chunk with no choices carries the counts.
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): SseEvent => ({
      data: JSON.stringify({
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(reply.includeUsage ? { usage: null } : {}),
      }),
    });
    const toolHeader = (call: Reply['toolCalls'][number], index: number) => ({
      index,
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: '' },
    });
    const first = reply.toolCalls[0];
    const toolCallsOnly = first !== undefined && !reply.text && !reply.thinking;
    // The first chunk names the role: with empty content before text, or with the first tool call's header.
    if (toolCallsOnly)
      yield chunk({ role: 'assistant', content: null, tool_calls: [toolHeader(first, 0)], refusal: null });
    else yield chunk({ role: 'assistant', content: '', refusal: null });
    for (const piece of pieces(reply.thinking, reply.chunkSize)) yield chunk({ reasoning_content: piece });
    for (const piece of pieces(reply.text, reply.chunkSize)) yield chunk({ content: piece });
    for (const [index, call] of reply.toolCalls.entries()) {
      if (!(toolCallsOnly && index === 0)) yield chunk({ tool_calls: [toolHeader(call, index)] });
      for (const piece of pieces(call.arguments, reply.chunkSize))
        yield chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
    }
    yield chunk({}, reply.finish);
    if (reply.includeUsage) yield { data: JSON.stringify({ ...base, choices: [], usage: openaiUsage(reply) }) };
    yield { data: '[DONE]' };
  },

  json(reply) {
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: reply.text || (reply.toolCalls.length > 0 ? null : ''),
      refusal: null,
      annotations: [],
    };
    if (reply.thinking) message.reasoning_content = reply.thinking;
    if (reply.toolCalls.length > 0)
      message.tool_calls = reply.toolCalls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      }));
    return {
      id: `chatcmpl-${randomId()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: reply.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: reply.finish }],
      usage: openaiUsage(reply),
      service_tier: 'default',
      system_fingerprint: 'fp_scripted',
    };
  },
};

/**
 * The OpenAI Responses API (`POST /v1/responses`), which @ai-sdk/openai uses for OpenAI's own models. The output
 * is a list of items (reasoning, a message, function calls); a stream announces each item, streams its parts and
 * closes it, every event numbered, and ends with `response.completed` (or `response.incomplete`) carrying usage.
 */
const openaiResponses: Wire = {
  requestIdHeader: 'x-request-id',
  invalidJsonMessage: openai.invalidJsonMessage,
  errorBody: (error) => openai.errorBody(error),
  authError: (presented) => openai.authError(presented),

  streamError(error) {
    return {
      event: 'error',
      data: JSON.stringify({
        type: 'error',
        sequence_number: 0,
        code: error.code ?? openaiErrorCode(error.status),
        message: error.message,
        param: null,
      }),
    };
  },

  *stream(reply) {
    let sequence = 0;
    const event = (data: { type: string } & Record<string, unknown>): SseEvent => ({
      event: data.type,
      data: JSON.stringify({ ...data, sequence_number: sequence++ }),
    });
    const id = `resp_${randomId()}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const items = responsesItems(reply);
    const started = responsesObject(reply, id, createdAt, undefined);
    yield event({ type: 'response.created', response: started });
    yield event({ type: 'response.in_progress', response: started });
    for (const [output_index, item] of items.entries()) {
      const at = { item_id: item.id, output_index };
      switch (item.type) {
        case 'reasoning': {
          yield event({ type: 'response.output_item.added', output_index, item: { ...item, summary: [] } });
          for (const [summary_index, { text }] of item.summary.entries()) {
            const part = { type: 'summary_text', text: '' };
            yield event({ type: 'response.reasoning_summary_part.added', ...at, summary_index, part });
            for (const delta of pieces(text, reply.chunkSize))
              yield event({ type: 'response.reasoning_summary_text.delta', ...at, summary_index, delta });
            yield event({ type: 'response.reasoning_summary_text.done', ...at, summary_index, text });
            yield event({
              type: 'response.reasoning_summary_part.done',
              ...at,
              summary_index,
              part: { ...part, text },
            });
          }
          break;
        }
        case 'message': {
          const text = item.content[0]?.text ?? '';
          yield event({
            type: 'response.output_item.added',
            output_index,
            item: { ...item, status: 'in_progress', content: [] },
          });
          const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
          yield event({ type: 'response.content_part.added', ...at, content_index: 0, part });
          for (const delta of pieces(text, reply.chunkSize))
            yield event({ type: 'response.output_text.delta', ...at, content_index: 0, delta, logprobs: [] });
          yield event({ type: 'response.output_text.done', ...at, content_index: 0, text, logprobs: [] });
          yield event({ type: 'response.content_part.done', ...at, content_index: 0, part: { ...part, text } });
          break;
        }
        case 'function_call': {
          yield event({
            type: 'response.output_item.added',
            output_index,
            item: { ...item, status: 'in_progress', arguments: '' },
          });
          for (const delta of pieces(item.arguments, reply.chunkSize))
            yield event({ type: 'response.function_call_arguments.delta', ...at, delta });
          yield event({ type: 'response.function_call_arguments.done', ...at, arguments: item.arguments });
          break;
        }
      }
      yield event({ type: 'response.output_item.done', output_index, item });
    }
    const finished = responsesObject(reply, id, createdAt, items);
    yield event({ type: `response.${finished.status}`, response: finished });
  },

  json(reply) {
    return responsesObject(reply, `resp_${randomId()}`, Math.floor(Date.now() / 1000), responsesItems(reply));
  },
};

type ResponsesItem =
  | { type: 'reasoning'; id: string; summary: { type: 'summary_text'; text: string }[]; encrypted_content?: string }
  | {
      type: 'message';
      id: string;
      status: 'completed';
      role: 'assistant';
      content: { type: 'output_text'; text: string; annotations: []; logprobs: [] }[];
    }
  | { type: 'function_call'; id: string; status: 'completed'; call_id: string; name: string; arguments: string };

const itemsOfReply = new WeakMap<Reply, ResponsesItem[]>();

/** The output items of a reply, in the order a reasoning model produces them (the same ones on every call). */
function responsesItems(reply: Reply): ResponsesItem[] {
  const made = itemsOfReply.get(reply);
  if (made) return made;
  const items: ResponsesItem[] = [];
  itemsOfReply.set(reply, items);
  if (reply.thinking)
    items.push({
      type: 'reasoning',
      id: `rs_${randomId()}`,
      summary: reply.reasoningSummary ? [{ type: 'summary_text', text: reply.thinking }] : [],
      ...(reply.encryptedReasoning
        ? { encrypted_content: Buffer.from(`${reply.signature}:${reply.thinking}`).toString('base64') }
        : {}),
    });
  if (reply.text)
    items.push({
      type: 'message',
      id: `msg_${randomId()}`,
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: reply.text, annotations: [], logprobs: [] }],
    });
  for (const call of reply.toolCalls)
    items.push({
      type: 'function_call',
      id: `fc_${randomId()}`,
      status: 'completed',
      call_id: call.id,
      name: call.name,
      arguments: call.arguments,
    });
  return items;
}

/** The response object: in progress (no output yet) until its items are given, then completed or incomplete. */
function responsesObject(reply: Reply, id: string, createdAt: number, output: ResponsesItem[] | undefined) {
  const status = !output ? 'in_progress' : reply.finish === 'length' ? 'incomplete' : 'completed';
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    model: reply.model,
    output: output ?? [],
    parallel_tool_calls: true,
    service_tier: 'default',
    usage:
      status === 'in_progress'
        ? null
        : {
            input_tokens: reply.usage.input,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: reply.usage.output,
            output_tokens_details: {
              reasoning_tokens: Math.min(reply.usage.output, Math.ceil(reply.thinking.length / 4)),
            },
            total_tokens: reply.usage.input + reply.usage.output,
          },
  };
}

function openaiUsage(reply: Reply) {
  return {
    prompt_tokens: reply.usage.input,
    completion_tokens: reply.usage.output,
    total_tokens: reply.usage.input + reply.usage.output,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiErrorType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function openaiErrorCode(status: number): string | null {
  if (status === 401) return 'invalid_api_key';
  if (status === 404) return 'model_not_found';
  if (status === 429) return 'rate_limit_exceeded';
  return null;
}

/** Anthropic Messages. */
const anthropic: Wire = {
  requestIdHeader: 'request-id',
  invalidJsonMessage: 'There was an issue with your request body: it is not valid JSON.',

  errorBody(error) {
    return {
      type: 'error',
      error: { type: error.type ?? anthropicErrorType(error.status), message: error.message },
      request_id: requestId(),
    };
  },

  authError(presented) {
    return { status: 401, message: presented ? 'invalid x-api-key' : 'x-api-key header is required' };
  },

  streamError(error) {
    const body = this.errorBody(error) as { type: string; error: unknown };
    return { event: 'error', data: JSON.stringify({ type: body.type, error: body.error }) };
  },

  *stream(reply) {
    const event = (data: { type: string } & Record<string, unknown>): SseEvent => ({
      event: data.type,
      data: JSON.stringify(data),
    });
    yield event({
      type: 'message_start',
      message: {
        id: `msg_${randomId()}`,
        type: 'message',
        role: 'assistant',
        model: reply.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: reply.usage.input,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 1,
          service_tier: 'standard',
        },
      },
    });
    let index = 0;
    // The API sends a ping early in every stream (after the first block starts); clients must skip it.
    let pinged = false;
    function* block(contentBlock: Record<string, unknown>, deltas: Record<string, unknown>[]): Generator<SseEvent> {
      yield event({ type: 'content_block_start', index, content_block: contentBlock });
      if (!pinged) {
        pinged = true;
        yield event({ type: 'ping' });
      }
      for (const delta of deltas) yield event({ type: 'content_block_delta', index, delta });
      yield event({ type: 'content_block_stop', index });
      index++;
    }
    if (reply.thinking)
      yield* block({ type: 'thinking', thinking: '', signature: '' }, [
        ...pieces(reply.thinking, reply.chunkSize).map((thinking) => ({ type: 'thinking_delta', thinking })),
        { type: 'signature_delta', signature: reply.signature },
      ]);
    if (reply.text)
      yield* block(
        { type: 'text', text: '' },
        pieces(reply.text, reply.chunkSize).map((text) => ({ type: 'text_delta', text })),
      );
    for (const call of reply.toolCalls)
      yield* block({ type: 'tool_use', id: call.id, name: call.name, input: {} }, [
        // The real API opens every tool input with an empty partial_json.
        { type: 'input_json_delta', partial_json: '' },
        ...pieces(call.arguments, reply.chunkSize).map((partial_json) => ({ type: 'input_json_delta', partial_json })),
      ]);
    if (!pinged) yield event({ type: 'ping' });
    yield event({
      type: 'message_delta',
      delta: { stop_reason: anthropicStopReason(reply.finish), stop_sequence: null },
      // Current API versions repeat the input counts here; the output count is the final total.
      usage: {
        input_tokens: reply.usage.input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: reply.usage.output,
      },
    });
    yield event({ type: 'message_stop' });
  },

  json(reply) {
    const content: Record<string, unknown>[] = [];
    if (reply.thinking) content.push({ type: 'thinking', thinking: reply.thinking, signature: reply.signature });
    if (reply.text) content.push({ type: 'text', text: reply.text });
    for (const call of reply.toolCalls)
      content.push({ type: 'tool_use', id: call.id, name: call.name, input: call.input });
    return {
      id: `msg_${randomId()}`,
      type: 'message',
      role: 'assistant',
      model: reply.model,
      content,
      stop_reason: anthropicStopReason(reply.finish),
      stop_sequence: null,
      usage: {
        input_tokens: reply.usage.input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: reply.usage.output,
        service_tier: 'standard',
      },
    };
  },
};

function anthropicStopReason(finish: Reply['finish']): string {
  if (finish === 'tool_calls') return 'tool_use';
  if (finish === 'length') return 'max_tokens';
  return 'end_turn';
}

function anthropicErrorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * Writes SSE events one at a time, pausing before each, and stops quietly once the client has gone. (Plain
 * fields, no parameter properties: benchmarks load this file with Node's type stripping.)
 */
class EventStream {
  private readonly res: ServerResponse;
  private readonly delayMs: number;

  constructor(res: ServerResponse, delayMs: number) {
    this.res = res;
    this.delayMs = delayMs;
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async send({ event, data }: SseEvent): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.closed) return;
    if (!this.res.headersSent)
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
    this.res.write(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`);
  }

  end(): void {
    if (!this.closed) this.res.end();
  }
}

function sendError(res: ServerResponse, wire: Wire, error: ScriptedError['error']): void {
  sendJson(res, error.status, wire.errorBody(error), { [wire.requestIdHeader]: requestId(), ...error.headers });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') return apiKey;
  const match = /^Bearer (.+)$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/** Like OpenAI's message: enough of the key to recognise it, not the whole of it. */
function maskKey(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '*'.repeat(key.length);
}

/** Splits by code point, so an emoji or CJK character is never cut in half across deltas. */
function pieces(text: string, size: number): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}

function randomId(): string {
  return randomBytes(12).toString('hex');
}

function requestId(): string {
  return `req_${randomId()}`;
}
