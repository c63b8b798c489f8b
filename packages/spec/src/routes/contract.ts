import type { z } from 'zod';
import type { ConcreteScope } from '../scopes.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * One REST route's contract. The server binds a handler to it, the OpenAPI document is generated from it,
 * the SDK calls it, and the scope test walks every entry: a route cannot exist without saying who may call it.
 */
export interface RouteContract {
  method: HttpMethod;
  /** Hono-style path, `:name` for parameters. */
  path: string;
  summary: string;
  tag: string;
  /** `public` needs no key; `key` needs a valid key holding any one of `scopes` (none listed: any valid key). */
  auth: 'public' | 'key';
  scopes: readonly ConcreteScope[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The schema of the answer, or with `stream: 'sse'` of each server-sent event. */
  response: z.ZodType;
  status: 200 | 201;
  /**
   * `sse`: the answer is a stream of server-sent events (`text/event-stream`), named by their `type`.
   * `bytes`: the answer is raw bytes (`application/octet-stream`), streamed.
   */
  stream?: 'sse' | 'bytes';
  /**
   * The request body is streamed to the handler, not parsed as JSON: `octet-stream` raw bytes, `multipart`
   * a `multipart/form-data` form (file uploads from browsers and curl -F).
   */
  rawBody?: 'octet-stream' | 'multipart';
  /** A JSON body larger than the server's default limit is accepted up to this size (files inside the JSON). */
  maxBodyBytes?: number;
}

export function route<const T extends RouteContract>(contract: T): T {
  return contract;
}

/** Fill a route path's `:params`, URL-encoding each value. */
export function routePath(path: string, params: Record<string, string> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}
