import { routeTable } from 'virtual:runtools-routes';
import type { RouteId, routes } from '@runtools/spec';
import type { z } from 'zod';

type Contract<K extends RouteId> = (typeof routes)[K];
type InputOf<T> = T extends z.ZodType ? z.input<T> : never;
type Empty = Record<never, never>;

/** What a route takes: its path parameters, query and body, typed from the spec's contract. */
export type RouteInput<K extends RouteId> = (Contract<K> extends { params: infer P } ? { params: InputOf<P> } : Empty) &
  (Contract<K> extends { query: infer Q } ? { query?: InputOf<Q> } : Empty) &
  (Contract<K> extends { body: infer B } ? { body: InputOf<B> } : Empty);

/** What a route answers, typed from the spec's contract. */
export type RouteOutput<K extends RouteId> = z.output<Contract<K>['response']>;

/** An error the API answered with (`{ error: { code, message, details } }`), or a failure to reach it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;
let onUnauthenticated: (() => void) | undefined;

/** The session's CSRF token, sent as `X-CSRF-Token` on every mutating request (see api/session.tsx). */
export function setCsrfToken(token: string | undefined) {
  csrfToken = token;
}

/** Called when the API says the session is gone (expired, ended elsewhere): the app shows the sign-in page. */
export function setUnauthenticatedHandler(handler: (() => void) | undefined) {
  onUnauthenticated = handler;
}

/** A route's path with its `:params` filled (each value URL-encoded), as the spec's routePath does. */
export function fillPath(path: string, params: Record<string, unknown> = {}): string {
  return path.replace(/:([A-Za-z]+)(?:\{[^}]+\})?/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(String(value));
  });
}

export function routeUrl<K extends RouteId>(id: K, input: Partial<RouteInput<K>> = {}): string {
  const entry = routeTable[id];
  if (!entry) throw new Error(`unknown route ${id}`);
  const { params, query } = input as { params?: Record<string, unknown>; query?: Record<string, unknown> };
  let url = fillPath(entry[1], params);
  if (query) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === '') continue;
      if (typeof value === 'object') {
        // Metadata filters: metadata.key=value.
        for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>))
          search.append(`${key}.${inner}`, String(innerValue));
      } else search.append(key, String(value));
    }
    const text = search.toString();
    if (text) url += `?${text}`;
  }
  return url;
}

async function failure(response: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: unknown } } | undefined;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = new ApiError(
    response.status,
    body?.error?.code ?? 'http_error',
    body?.error?.message ?? `the server answered ${response.status} ${response.statusText}`,
    body?.error?.details,
  );
  if (response.status === 401 && error.code !== 'invalid_api_key') onUnauthenticated?.();
  return error;
}

/** Raw fetch against the API with the session cookie and, on a mutating request, the CSRF token. */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers.set('X-CSRF-Token', csrfToken);
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers, credentials: 'same-origin' });
  } catch (error) {
    throw new ApiError(0, 'network_error', `could not reach the server: ${(error as Error).message}`);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/**
 * Calls a REST route by its id, typed from the spec: `call('sandboxesGet', { params: { sandboxId } })`.
 */
export async function call<K extends RouteId>(
  id: K,
  ...args: Empty extends RouteInput<K> ? [RouteInput<K>?] : [RouteInput<K>]
): Promise<RouteOutput<K>> {
  const input = (args[0] ?? {}) as { body?: unknown };
  const entry = routeTable[id];
  if (!entry) throw new Error(`unknown route ${id}`);
  const init: RequestInit = { method: entry[0] };
  if (input.body !== undefined) {
    init.body = JSON.stringify(input.body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const response = await apiFetch(routeUrl(id, input as Partial<RouteInput<K>>), init);
  if (response.status === 204) return undefined as RouteOutput<K>;
  return (await response.json()) as RouteOutput<K>;
}

/** Reads a server-sent event stream (a run's or a build's events) until it ends or `signal` aborts. */
export async function* sse(url: string, signal?: AbortSignal): AsyncGenerator<{ event: string; data: string }> {
  const response = await apiFetch(url, { headers: { Accept: 'text/event-stream' }, signal });
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) yield { event, data: data.join('\n') };
    }
  }
}
