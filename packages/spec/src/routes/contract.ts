import type { z } from 'zod';
import type { ConcreteScope } from '../scopes.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * One REST route's contract. The server binds a handler to it, the OpenAPI document is generated from it,
 * the SDK calls it, and the scope test walks every entry: a route cannot exist without saying who may call it.
 */
export interface RouteContract {
  method: HttpMethod;
  /** Hono-style path: `:name` for a parameter, `:name{.+}` for one that takes the rest of the path. */
  path: string;
  summary: string;
  tag: string;
  /**
   * `public` needs no key; `key` needs a valid key holding any one of `scopes` (none listed: any valid key), or a
   * dashboard session cookie whose key does (with the session's CSRF token on a request that is not a GET);
   * `session` needs a dashboard session cookie and takes no key.
   */
  auth: 'public' | 'key' | 'session';
  scopes: readonly ConcreteScope[];
  /**
   * A RunMesh node's token (`rtn_…`) is accepted too, in place of a key: the call acts as the node, for the
   * member who owns it, with no more than `agents:read`, `agents:write` and `mesh:read`, on these routes only.
   */
  nodeToken?: true;
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
   * a `multipart/form-data` form (file uploads from browsers and curl -F); `any` the exact bytes of a body of
   * any content type, read whole under the body limit (a signed webhook).
   */
  rawBody?: 'octet-stream' | 'multipart' | 'any';
  /** A JSON body larger than the server's default limit is accepted up to this size (files inside the JSON). */
  maxBodyBytes?: number;
}

export function route<const T extends RouteContract>(contract: T): T {
  return contract;
}

/**
 * A path parameter: `:name` (one segment), or `:name{regex}` (Hono's syntax) for one that matches more, e.g.
 * `:path{.+}`: the rest of the path, slashes included.
 */
const parameterPattern = /:([A-Za-z]+)(?:\{([^}]+)\})?/g;

/** The route path with each parameter replaced by what `replace` makes of its name and its regex, if it has one. */
export function mapRouteParams(path: string, replace: (name: string, pattern: string | undefined) => string): string {
  return path.replace(parameterPattern, (_, name: string, pattern: string | undefined) => replace(name, pattern));
}

/** Fill a route path's `:params`, URL-encoding each value (a `/` in one too: the server decodes it). */
export function routePath(path: string, params: Record<string, string> = {}): string {
  return mapRouteParams(path, (name) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}
