import { type RouteContract, type RouteId, type RouteResponse, routePath, routes } from '@runtools/spec';
import type { z } from 'zod';
import {
  ConnectionError,
  errorFromResponse,
  InternalServerError,
  RateLimitError,
  type RunToolsError,
  TimeoutError,
} from './errors.js';

export interface HttpOptions {
  baseUrl: string;
  apiKey: string;
  /** Retries for idempotent calls on 429, 5xx and connection failures. */
  maxRetries: number;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs: number;
  fetch: typeof globalThis.fetch;
  userAgent: string;
}

type Contract<Id extends RouteId> = (typeof routes)[Id];
type Field<C, K extends 'params' | 'query' | 'body'> = C extends { [P in K]: infer S extends z.ZodType }
  ? z.input<S>
  : undefined;
/** A part of a request: required when the route has it and it cannot be left out, optional otherwise. */
type Part<K extends string, T> = [T] extends [undefined]
  ? { [P in K]?: undefined }
  : undefined extends T
    ? { [P in K]?: T }
    : { [P in K]: T };

/**
 * What a call of route `Id` sends, from the route table: its path parameters, query and JSON body as their
 * schemas accept them (the server validates them again; the types keep the SDK's own calls honest).
 */
export type RouteInput<Id extends RouteId> = Part<'params', Field<Contract<Id>, 'params'>> &
  Part<'query', Partial<NonNullable<Field<Contract<Id>, 'query'>>> | undefined> &
  Part<'body', Field<Contract<Id>, 'body'>>;

/** A route's input whose every part may be left out can be left out as a whole. */
type InputArgs<Id extends RouteId> =
  Partial<RouteInput<Id>> extends RouteInput<Id> ? [input?: RouteInput<Id>] : [input: RouteInput<Id>];

/** Query values as the URL carries them; `undefined` leaves a parameter out. */
function queryEntries(query: object | undefined): [string, string][] {
  return Object.entries(query ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)]);
}

/** An async iterable as a web stream (`ReadableStream.from` is missing from some browsers). */
function streamOf(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}

const idempotent = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

function backoffMs(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000);
  const base = Math.min(250 * 2 ** attempt, 8000);
  return base / 2 + Math.random() * (base / 2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls one route of the spec's table; the only place the SDK touches the network. */
export class HttpClient {
  constructor(private readonly options: HttpOptions) {}

  // Appended, not resolved, so a base URL with a path (a reverse proxy's /runtools) keeps it.
  private url(contract: RouteContract, params: Record<string, string> | undefined): URL {
    return new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${routePath(contract.path, params)}`);
  }

  private headers(accept: string): Record<string, string> {
    // No key (a public call such as signing up with an invitation): no authorization header at all.
    const authorization: Record<string, string> = this.options.apiKey
      ? { authorization: `Bearer ${this.options.apiKey}` }
      : {};
    return { ...authorization, accept, 'user-agent': this.options.userAgent };
  }

  /**
   * Calls the JSON route `id` of the table: its input and answer are typed by the route's schemas.
   * `callOptions.timeoutMs` overrides the client's timeout for calls that legitimately take long (create, exec).
   */
  async call<Id extends RouteId>(
    id: Id,
    ...args: [...InputArgs<Id>, { timeoutMs?: number }?]
  ): Promise<RouteResponse<Id>> {
    const contract: RouteContract = routes[id];
    const [input, callOptions = {}] = args as unknown as [
      { params?: object; query?: object; body?: unknown } | undefined,
      { timeoutMs?: number } | undefined,
    ];
    const { params, query, body: payload } = input ?? {};
    const timeoutMs = Math.max(callOptions.timeoutMs ?? 0, this.options.timeoutMs);
    const url = this.target(contract, params, query);
    const headers = this.headers('application/json');
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const retries = idempotent.has(contract.method) ? this.options.maxRetries : 0;

    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.options.fetch(url, {
          method: contract.method,
          headers,
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        const timedOut = (cause as Error)?.name === 'TimeoutError';
        const error: RunToolsError = timedOut
          ? new TimeoutError(`${contract.method} ${url.pathname} timed out after ${timeoutMs} ms`, {
              code: 'timeout',
              cause,
            })
          : HttpClient.unreachable(url, cause);
        if (attempt < retries) {
          await sleep(backoffMs(attempt, null));
          continue;
        }
        throw error;
      }
      const requestId = response.headers.get('x-request-id') ?? undefined;
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch (cause) {
        if (response.ok) {
          throw new InternalServerError(`the server sent a non-JSON ${response.status} response`, {
            code: 'invalid_response',
            status: response.status,
            cause,
            ...(requestId ? { requestId } : {}),
          });
        }
      }
      if (response.ok) return parsed as RouteResponse<Id>;
      const error = errorFromResponse(response.status, parsed, requestId);
      const retryable =
        error instanceof RateLimitError || (error instanceof InternalServerError && response.status >= 500);
      if (retryable && attempt < retries) {
        await sleep(backoffMs(attempt, response.headers.get('retry-after')));
        continue;
      }
      throw error;
    }
  }

  /** The route's URL with its query. */
  private target(contract: RouteContract, params?: object, query?: object): URL {
    const url = this.url(contract, params as Record<string, string> | undefined);
    for (const [name, value] of queryEntries(query)) url.searchParams.set(name, value);
    return url;
  }

  /** The error an unsuccessful response carries, as the SDK's error class. */
  private static async failure(response: Response) {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return errorFromResponse(response.status, parsed, response.headers.get('x-request-id') ?? undefined);
  }

  private static unreachable(url: URL, cause: unknown) {
    return new ConnectionError(`could not reach ${url.origin}: ${(cause as Error)?.message ?? cause}`, {
      code: 'connection_failed',
      cause,
    });
  }

  /** One request that is not retried (its body is a stream or a form); the Response once its status is known. */
  private async send(contract: RouteContract, url: URL, init: RequestInit, timeoutMs = 0): Promise<Response> {
    let response: Response;
    try {
      response = await this.options.fetch(url, {
        ...init,
        method: contract.method,
        signal: AbortSignal.timeout(Math.max(timeoutMs, this.options.timeoutMs)),
      });
    } catch (cause) {
      if ((cause as Error)?.name === 'TimeoutError')
        throw new TimeoutError(`${contract.method} ${url.pathname} timed out`, { code: 'timeout', cause });
      throw HttpClient.unreachable(url, cause);
    }
    if (!response.ok) throw await HttpClient.failure(response);
    return response;
  }

  /**
   * Calls a raw-bytes route (an upload body, or a `stream: 'bytes'` answer) and returns the Response once
   * its status is known; errors arrive as the usual error classes.
   */
  async raw<Id extends RouteId>(
    id: Id,
    input: Omit<RouteInput<Id>, 'body'> & {
      body?: Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
    },
    callOptions: { timeoutMs?: number } = {},
  ): Promise<Response> {
    const contract: RouteContract = routes[id];
    const { params, query } = input as { params?: object; query?: object };
    const headers: Record<string, string> = this.headers('application/octet-stream, application/json');
    let body: RequestInit['body'] | undefined;
    if (input.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = (
        input.body instanceof Uint8Array || input.body instanceof ReadableStream ? input.body : streamOf(input.body)
      ) as NonNullable<RequestInit['body']>;
    }
    const init = { headers, ...(body !== undefined ? { body, duplex: 'half' } : {}) } as RequestInit;
    return this.send(contract, this.target(contract, params, query), init, callOptions.timeoutMs);
  }

  /** The JSON answer of a `raw` or `form` call of route `id`, typed by the route's schema. */
  async answer<Id extends RouteId>(_id: Id, response: Response): Promise<RouteResponse<Id>> {
    return (await response.json()) as RouteResponse<Id>;
  }

  /** Sends a multipart/form-data body (fetch sets the boundary) and returns the Response. */
  async form<Id extends RouteId>(
    id: Id,
    input: Omit<RouteInput<Id>, 'body'> & { form: FormData },
    callOptions: { timeoutMs?: number } = {},
  ): Promise<Response> {
    const contract: RouteContract = routes[id];
    const { params, query } = input as { params?: object; query?: object };
    const init = { headers: this.headers('application/json'), body: input.form };
    return this.send(contract, this.target(contract, params, query), init, callOptions.timeoutMs);
  }

  /**
   * Calls a `stream: 'sse'` route and yields each server-sent event's JSON. Errors before the stream starts
   * arrive as the usual error classes; breaking out of the loop aborts the request.
   */
  async *events<Id extends RouteId>(
    id: Id,
    input: RouteInput<Id>,
    /**
     * `follow`: a stream that lasts as long as its subject (a log, a server process): no timeout. `signal`
     * stops it even while it waits for the next event (a generator's return() would wait for that event).
     */
    callOptions: { timeoutMs?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<RouteResponse<Id>> {
    const contract: RouteContract = routes[id];
    const { params, query, body: payload } = input as { params?: object; query?: object; body?: unknown };
    const url = this.target(contract, params, query);
    const abort = new AbortController();
    if (callOptions.signal?.aborted) return;
    callOptions.signal?.addEventListener('abort', () => abort.abort(new Error('stopped')), { once: true });
    const timer = callOptions.follow
      ? undefined
      : setTimeout(
          () => abort.abort(new Error('timeout')),
          Math.max(callOptions.timeoutMs ?? 0, this.options.timeoutMs),
        );
    const hasBody = contract.method !== 'GET';
    try {
      let response: Response;
      try {
        response = await this.options.fetch(url, {
          method: contract.method,
          headers: {
            ...this.headers('text/event-stream'),
            ...(hasBody ? { 'content-type': 'application/json' } : {}),
          },
          ...(hasBody ? { body: JSON.stringify(payload ?? {}) } : {}),
          signal: abort.signal,
        });
      } catch (cause) {
        // Stopped by the caller before the answer came: the stream simply ends.
        if (callOptions.signal?.aborted) return;
        throw HttpClient.unreachable(url, cause);
      }
      if (!response.ok || !response.body) throw await HttpClient.failure(response);
      const decoder = new TextDecoder();
      let buffer = '';
      const chunks = (async function* (body: ReadableStream<Uint8Array>) {
        try {
          for await (const chunk of body) yield chunk;
        } catch (error) {
          // Stopped by the caller mid-stream: the stream ends; anything else is an error.
          if (!callOptions.signal?.aborted) throw error;
        }
      })(response.body);
      for await (const chunk of chunks) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (data) yield JSON.parse(data) as RouteResponse<Id>;
        }
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}
