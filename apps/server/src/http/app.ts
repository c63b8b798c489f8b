import {
  csrfHeaderName,
  mapRouteParams,
  type RouteContract,
  type RouteId,
  routes,
  sessionCookieName,
} from '@runtools/spec';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { type Actor, isSessionActor } from '../auth/actor.js';
import { type Authenticator, keyFromHeaders, requireScopes } from '../auth/authenticate.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { DashboardSessions } from '../dashboard/sessions.js';
import { isForeignKeyViolation } from '../db/database.js';
import { DomainError } from '../errors.js';
import { newId } from '../ids.js';
import { maxBodyNesting, nestingOf } from '../json-nesting.js';
import { callbackHtml } from '../oauth/callback-page.js';
import type { CallbackPage } from '../oauth/oauth-service.js';
import { type DashboardAsset, type DashboardAssets, dashboardCsp, notBuiltHtml } from './dashboard-assets.js';
import { docsPage } from './docs-page.js';
import { errorStatus } from './errors.js';
import { buildOpenApiDocument } from './openapi.js';
import type { ByteStream, RouteHandlers } from './route-handlers.js';

export interface AppOptions {
  authenticator: Authenticator;
  handlers: RouteHandlers;
  logger: Logger;
  version: string;
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** Per-key request budget; absent means unlimited. */
  rateLimiter: RateLimiter | undefined;
  /** A RunMesh node's token (`rtn_…`) as an actor, for routes that accept one (`nodeToken: true`). */
  authenticateNode?: (token: string) => Promise<Actor>;
  /** The OAuth provider's redirect back (a browser's page, not JSON): see oauth/oauth-service.ts. */
  oauthCallback?: (query: Record<string, string | undefined>) => Promise<CallbackPage>;
  /** Dashboard sessions: a session cookie stands in for a key (see dashboard/sessions.ts). */
  sessions?: DashboardSessions;
  /** The built dashboard served at `/`; undefined: `/` says how to build it. */
  dashboard?: DashboardAssets;
  /** RUNTOOLS_PUBLIC_URL: the origin browsers reach the server at behind a proxy, and whether that is https. */
  publicUrl?: () => string | undefined;
}

/**
 * The session cookie's value from the Cookie header. Served over https only the `__Host-` name counts: a
 * cookie without the prefix may have been set by a sibling host (a dev URL's app) for the parent domain.
 */
export function sessionCookie(header: string | undefined, secure: boolean): string | undefined {
  if (!header) return undefined;
  const wanted = secure ? `__Host-${sessionCookieName}` : sessionCookieName;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === wanted) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** The origin the request reached this server at, from its own URL (scheme and Host). */
function ownOrigin(context: Context<Env>): string {
  try {
    return new URL(context.req.url).origin;
  } catch {
    return '';
  }
}

type Env = { Variables: { requestId: string } };

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function errorResponse(context: Context<Env>, error: DomainError) {
  const body = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      requestId: context.get('requestId'),
    },
  };
  return context.json(body, errorStatus[error.code]);
}

function zodDetails(error: z.ZodError, location: string) {
  return {
    location,
    issues: error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      code: issue.code,
      message: issue.message,
    })),
  };
}

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, location: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first && first.path.length > 0 ? `${location}.${first.path.map(String).join('.')}` : location;
    throw new DomainError(
      'validation_failed',
      `invalid ${where}: ${first?.message ?? 'invalid input'}`,
      zodDetails(result.error, location),
    );
  }
  return result.data;
}

async function readJsonBody(context: Context<Env>): Promise<unknown> {
  const type = context.req.header('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new DomainError('unsupported_media_type', 'send the body as JSON with "Content-Type: application/json"', {
      contentType: type || null,
    });
  }
  const text = await context.req.text();
  if (text.trim() === '') throw new DomainError('invalid_json', 'the request body is empty; send a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new DomainError('invalid_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (nestingOf(body) > maxBodyNesting)
    throw new DomainError('validation_failed', `the request body nests deeper than ${maxBodyNesting} levels`, {
      location: 'body',
      maxNesting: maxBodyNesting,
    });
  return body;
}

/** The peer's address as the socket has it (an IPv4 peer without its `::ffff:` prefix); no proxy header is trusted. */
function clientAddress(context: Context<Env>): string | undefined {
  const incoming = (context.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress?.replace(/^::ffff:/, '');
}

/** `/v1/secrets/:name` → a regex matching concrete paths, for telling 405 from 404 (`:path{.+}`: its own regex). */
function pathRegex(path: string): RegExp {
  return new RegExp(`^${mapRouteParams(path, (_, pattern) => (pattern ? `(?:${pattern})` : '[^/]+'))}/?$`);
}

export function createApp(options: AppOptions): Hono<Env> {
  const app = new Hono<Env>();
  const openApiDocument = buildOpenApiDocument(options.version);

  app.use('*', async (context, next) => {
    const incoming = context.req.header('x-request-id');
    const requestId = incoming && requestIdPattern.test(incoming) ? incoming : newId('request');
    context.set('requestId', requestId);
    context.header('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    options.logger.info(
      {
        requestId,
        method: context.req.method,
        path: context.req.path,
        status: context.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  });

  // Raw-body routes (file uploads) stream their body and enforce their own, larger limit.
  const rawRoutes = Object.values(routes as Record<string, RouteContract>)
    .filter((contract) => contract.rawBody === 'octet-stream' || contract.rawBody === 'multipart')
    .map((contract) => ({ method: contract.method, regex: pathRegex(contract.path) }));
  const limiter = (maxBytes: number) =>
    bodyLimit({
      maxSize: maxBytes,
      onError: (context) => {
        // The rest of the body is never read, so this connection cannot carry another request.
        context.header('Connection', 'close');
        return errorResponse(
          context as Context<Env>,
          new DomainError('payload_too_large', `the request body is larger than ${maxBytes} bytes`, { maxBytes }),
        );
      },
    });
  const limitBody = limiter(options.maxBodyBytes);
  // Routes whose JSON bodies carry files (agent runs with attachments) allow more than the default.
  const largeRoutes = Object.values(routes as Record<string, RouteContract>)
    .filter((contract) => contract.maxBodyBytes)
    .map((contract) => ({
      method: contract.method,
      regex: pathRegex(contract.path),
      limit: limiter(Math.max(contract.maxBodyBytes ?? 0, options.maxBodyBytes)),
    }));
  app.use('/v1/*', (context, next) => {
    const matches = (route: { method: string; regex: RegExp }) =>
      route.method === context.req.method && route.regex.test(context.req.path);
    if (rawRoutes.some(matches)) return next();
    return (largeRoutes.find(matches)?.limit ?? limitBody)(context, next);
  });

  app.get('/v1/openapi.json', (context) => context.json(openApiDocument));
  app.get('/docs', (context) => context.html(docsPage(options.version)));
  const sendAsset = (context: Context<Env>, asset: DashboardAsset, html: boolean) => {
    const headers: Record<string, string> = {
      'Content-Type': asset.type,
      'X-Content-Type-Options': 'nosniff',
      Vary: 'Accept-Encoding',
      'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (html) {
      headers['Content-Security-Policy'] = dashboardCsp;
      headers['X-Frame-Options'] = 'DENY';
      headers['Referrer-Policy'] = 'no-referrer';
      headers['Cache-Control'] = 'no-store';
    }
    const gzip = asset.gzip && /\bgzip\b/.test(context.req.header('accept-encoding') ?? '');
    if (gzip) headers['Content-Encoding'] = 'gzip';
    const body = (gzip ? asset.gzip : asset.body) as Uint8Array<ArrayBuffer>;
    headers['Content-Length'] = String(body.byteLength);
    if (context.req.method === 'HEAD') return context.body(null, 200, headers);
    return context.body(body, 200, headers);
  };
  /** The dashboard's page for a browser navigating anywhere outside the API (the app routes on its own). */
  const dashboardPage = (context: Context<Env>) => {
    if (!options.dashboard) {
      context.header('Cache-Control', 'no-store');
      return context.html(notBuiltHtml);
    }
    return sendAsset(context, options.dashboard.index, true);
  };
  app.get('/', dashboardPage);
  app.get('/v1/oauth/callback', async (context) => {
    if (!options.oauthCallback) throw new DomainError('route_not_found', 'this server has no OAuth broker');
    const query = context.req.query();
    const page = await options.oauthCallback({
      state: query.state,
      code: query.code,
      error: query.error,
      error_description: query.error_description,
    });
    // The page names nothing secret, and must not be framed or cached (it ends a sign-in).
    context.header('Cache-Control', 'no-store');
    context.header('X-Frame-Options', 'DENY');
    context.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    context.header('Referrer-Policy', 'no-referrer');
    return context.html(callbackHtml(page), page.status);
  });

  for (const [id, contract] of Object.entries(routes) as [RouteId, RouteContract][]) {
    const handler = options.handlers[id] as (input: unknown) => Promise<unknown>;
    app.on(contract.method, contract.path, async (context) => {
      let auth: Actor | undefined;
      // The origins a session's requests may come from: worked out only for a request that carries cookies.
      const cookieHeader = context.req.header('cookie');
      const publicUrl = cookieHeader ? options.publicUrl?.() : undefined;
      const origins = cookieHeader ? [ownOrigin(context), ...(publicUrl ? [new URL(publicUrl).origin] : [])] : [];
      const cookie = sessionCookie(
        cookieHeader,
        origins.some((origin) => origin.startsWith('https:')),
      );
      const sessionRequest = () => ({
        method: context.req.method,
        csrfToken: context.req.header(csrfHeaderName),
        origin: context.req.header('origin'),
        ownOrigins: origins,
      });
      if (contract.auth === 'session') {
        if (!cookie || !options.sessions)
          throw new DomainError('session_required', 'this needs a dashboard session: sign in at / first');
        auth = await options.sessions.authenticate(cookie, sessionRequest());
      } else if (contract.auth === 'key') {
        const token = keyFromHeaders({ get: (name) => context.req.header(name) });
        if (!token && cookie && options.sessions) {
          // A browser signed in to the dashboard: its session cookie stands in for the key it was made from.
          auth = await options.sessions.authenticate(cookie, sessionRequest());
        } else if (token?.startsWith('rtn_')) {
          // A node's token opens only the routes that say so; anywhere else it is no key at all.
          if (!contract.nodeToken || !options.authenticateNode)
            throw new DomainError('invalid_api_key', 'a RunMesh node token is not accepted here; use an API key');
          auth = await options.authenticateNode(token);
        } else auth = await options.authenticator.authenticate(token);
      }
      if (auth) {
        // A session spends its key's budget: signing in again does not buy more requests.
        const budget = options.rateLimiter?.take(isSessionActor(auth) ? auth.key.id : auth.principal.id);
        if (budget && !budget.ok) {
          context.header('Retry-After', String(budget.retryAfterSeconds));
          throw new DomainError(
            'rate_limited',
            `too many requests for this API key; retry in ${budget.retryAfterSeconds} s`,
            {
              retryAfterSeconds: budget.retryAfterSeconds,
            },
          );
        }
        requireScopes(auth, contract.scopes);
      }
      const params = contract.params ? parseOrThrow(contract.params, context.req.param(), 'path') : undefined;
      const query = contract.query ? parseOrThrow(contract.query, context.req.query(), 'query') : undefined;
      const body = contract.body ? parseOrThrow(contract.body, await readJsonBody(context), 'body') : undefined;
      let rawBody: AsyncIterable<Uint8Array> | undefined;
      if (contract.rawBody) {
        const type = context.req.header('content-type') ?? '';
        if (contract.rawBody === 'any') {
          // Any content type, read whole (under the body limit): a webhook signs the exact bytes it sent.
        } else if (
          contract.rawBody === 'multipart'
            ? !/^multipart\/form-data\b/i.test(type)
            : type && !/^application\/octet-stream\b/i.test(type)
        ) {
          const wanted = contract.rawBody === 'multipart' ? 'multipart/form-data' : 'application/octet-stream';
          throw new DomainError('unsupported_media_type', `send the body as "Content-Type: ${wanted}"`, {
            contentType: type || null,
          });
        }
        // The Node request itself where the server runs on Node: read as it is, it streams about three times
        // faster than through the web stream wrapped around it (measured with 256 MiB uploads).
        const incoming = (context.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming;
        rawBody = incoming ?? context.req.raw.body ?? undefined;
      }
      const result = await handler({
        params,
        query,
        body,
        auth,
        requestId: context.get('requestId'),
        rawBody,
        contentType: context.req.header('content-type'),
        header: (name: string) => context.req.header(name),
        clientAddress: clientAddress(context),
        origin: ownOrigin(context),
        setHeader: (name: string, value: string) => context.header(name, value, { append: true }),
      });
      if (contract.stream === 'bytes') {
        const bytes = result as ByteStream;
        const headers: Record<string, string> = { 'content-type': bytes.contentType ?? 'application/octet-stream' };
        if (bytes.size !== undefined) headers['content-length'] = String(bytes.size);
        if (bytes.filename !== undefined)
          headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(bytes.filename)}`;
        return context.body(bytes.body, contract.status, headers);
      }
      if (contract.stream === 'sse') {
        const events = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        return streamSSE(context, async (stream) => {
          // A client that goes away ends the iteration, which stops the work behind it.
          stream.onAbort(() => void events.return?.());
          for (let next = await events.next(); !next.done; next = await events.next()) {
            const event = contract.response.parse(next.value) as { type: string };
            await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          }
        });
      }
      // Parsing the result through its schema drops any field the contract does not name, so a handler can
      // never leak a column (a key hash, a ciphertext) by returning a whole row.
      return context.json(contract.response.parse(result) as object, contract.status);
    });
  }

  const known = Object.values(routes).map((contract) => ({ method: contract.method, regex: pathRegex(contract.path) }));
  app.notFound((context) => {
    const method = context.req.method;
    if ((method === 'GET' || method === 'HEAD') && !context.req.path.startsWith('/v1/')) {
      const asset = options.dashboard?.files.get(context.req.path);
      if (asset) return sendAsset(context, asset, false);
      // A browser opening a dashboard address (a reload, a link) gets the app, which shows that page.
      if (/\btext\/html\b/.test(context.req.header('accept') ?? '') && !context.req.path.startsWith('/assets/'))
        return dashboardPage(context);
    }
    const methods = known.filter((route) => route.regex.test(context.req.path)).map((route) => route.method);
    if (methods.length > 0) {
      context.header('Allow', [...new Set(methods)].join(', '));
      return errorResponse(
        context,
        new DomainError('method_not_allowed', `${context.req.method} is not allowed on ${context.req.path}`, {
          allowed: methods,
        }),
      );
    }
    return errorResponse(
      context,
      new DomainError('route_not_found', `no route ${context.req.method} ${context.req.path}`),
    );
  });

  app.onError((error, context) => {
    if (error instanceof DomainError) {
      // An upload refused half way: the rest of its body is never read.
      if (error.code === 'payload_too_large') context.header('Connection', 'close');
      const retryAfter = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (error.code === 'rate_limited' && typeof retryAfter === 'number')
        context.header('Retry-After', String(retryAfter));
      return errorResponse(context, error);
    }
    // A row this request wrote refers to one removed since it was checked (a project deleted under a create):
    // the write was refused as a whole. Logged, since a reference that was never checked would land here too.
    if (isForeignKeyViolation(error)) {
      options.logger.warn({ err: error, requestId: context.get('requestId') }, 'a write lost a foreign-key race');
      return errorResponse(
        context,
        new DomainError(
          'invalid_transition',
          'something this request refers to (its project) was removed while it ran; try again',
        ),
      );
    }
    options.logger.error({ err: error, requestId: context.get('requestId') }, 'unhandled error');
    return errorResponse(
      context,
      new DomainError('internal_error', 'internal error; the request id identifies it in the server log'),
    );
  });

  return app;
}
