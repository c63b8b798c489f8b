import type { RouteContract, RouteId, routes } from '@runtools/spec';
import type { z } from 'zod';
import type { Actor } from '../auth/actor.js';

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

/** What a handler receives: the validated request and, for `auth: 'key'` routes, who is calling. */
export interface HandlerInput<R extends RouteContract> {
  params: Infer<R['params']>;
  query: Infer<R['query']>;
  body: Infer<R['body']>;
  auth: R['auth'] extends 'key' | 'session' ? Actor : undefined;
  requestId: string;
  /** For `rawBody` routes: the request body as it arrives (the Node request itself where there is one), and its content type. */
  rawBody: AsyncIterable<Uint8Array> | undefined;
  contentType: string | undefined;
  /** A request header by name (case-insensitive). */
  header: (name: string) => string | undefined;
  /** The address the request came from (the socket's peer), where the server knows it. */
  clientAddress: string | undefined;
  /** The origin the request reached this server at (`http://host:port`). */
  origin: string;
  /** Adds a response header (a session's Set-Cookie). */
  setHeader: (name: string, value: string) => void;
}

/** What a `stream: 'bytes'` handler answers with. */
export interface ByteStream {
  body: ReadableStream<Uint8Array>;
  size?: number;
  contentType?: string;
  /** Sent as an attachment with this file name. */
  filename?: string;
}

/** A handler answers with one value, for `stream: 'sse'` routes with the events, for `bytes` with a stream. */
export type RouteHandler<R extends RouteContract> = (
  input: HandlerInput<R>,
) => Promise<
  R['stream'] extends 'sse'
    ? AsyncIterable<z.input<R['response']>>
    : R['stream'] extends 'bytes'
      ? ByteStream
      : z.input<R['response']>
>;

/** One handler per route in the spec; a route without a handler does not compile. */
export type RouteHandlers = { [Id in RouteId]: RouteHandler<(typeof routes)[Id]> };

/**
 * One domain's slice of the handlers: a handler for each route of its table (`spec/src/routes/<domain>.ts`),
 * typed as `RouteHandlers` types it. The slices are merged into `RouteHandlers`, which still needs all of them.
 */
export type DomainHandlers<R extends Record<string, RouteContract>> = { [Id in keyof R]: RouteHandler<R[Id]> };
