import { type RouteContract, routePath } from '@runtools/spec';
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

  async call<T>(
    contract: RouteContract,
    input: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown } = {},
    /** Per-call override of the client's timeout, for calls that legitimately take long (sandbox create, exec). */
    callOptions: { timeoutMs?: number } = {},
  ): Promise<T> {
    const timeoutMs = Math.max(callOptions.timeoutMs ?? 0, this.options.timeoutMs);
    const url = this.target(contract, input.params, input.query);
    const headers = this.headers('application/json');
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
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
      if (response.ok) return parsed as T;
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
  private target(contract: RouteContract, params?: Record<string, string>, query?: Record<string, string>): URL {
    const url = this.url(contract, params);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
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
  async raw(
    contract: RouteContract,
    input: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
    },
    callOptions: { timeoutMs?: number } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = this.headers('application/octet-stream, application/json');
    let body: RequestInit['body'] | undefined;
    if (input.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = (
        input.body instanceof Uint8Array || input.body instanceof ReadableStream
          ? input.body
          : ReadableStream.from(input.body)
      ) as NonNullable<RequestInit['body']>;
    }
    const init = { headers, ...(body !== undefined ? { body, duplex: 'half' } : {}) } as RequestInit;
    return this.send(contract, this.target(contract, input.params, input.query), init, callOptions.timeoutMs);
  }

  /** Sends a multipart/form-data body (fetch sets the boundary) and returns the Response. */
  async form(
    contract: RouteContract,
    input: { params?: Record<string, string>; query?: Record<string, string>; form: FormData },
    callOptions: { timeoutMs?: number } = {},
  ): Promise<Response> {
    const init = { headers: this.headers('application/json'), body: input.form };
    return this.send(contract, this.target(contract, input.params, input.query), init, callOptions.timeoutMs);
  }

  /**
   * Calls a `stream: 'sse'` route and yields each server-sent event's JSON. Errors before the stream starts
   * arrive as the usual error classes; breaking out of the loop aborts the request.
   */
  async *events<T>(
    contract: RouteContract,
    input: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown },
    /**
     * `follow`: a stream that lasts as long as its subject (a log, a server process): no timeout. `signal`
     * stops it even while it waits for the next event (a generator's return() would wait for that event).
     */
    callOptions: { timeoutMs?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<T> {
    const url = this.target(contract, input.params, input.query);
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
          ...(hasBody ? { body: JSON.stringify(input.body ?? {}) } : {}),
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
          if (data) yield JSON.parse(data) as T;
        }
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}
