import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ChannelError } from '@runtools/runtime';
import type { SandboxUrl } from '@runtools/spec';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/actor.js';
import type { Authenticator } from '../auth/authenticate.js';
import { keyFromHeaders, requireScopes } from '../auth/authenticate.js';
import { isUniqueViolation } from '../db/database.js';
import { inPage, keysetPage, mapPage, type Page, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { errorStatus } from '../http/errors.js';
import { nowIso } from '../ids.js';
import { readClaims, refuseUpgrade, signClaims } from './access.js';
import type { SandboxService } from './sandbox-service.js';

const defaultLinkSeconds = 24 * 3600;
/** How long a request waits for a port that does not listen yet (a dev server still starting). */
const portWaitMs = 3000;
const tokenParam = 'rt_token';
const tokenCookie = 'rt_token';
const tokenHeader = 'x-runtools-token';

/** `{port}-{sandboxId}`: the one label in front of the dev domain that names a sandbox port. */
const labelPattern = /^([1-9]\d{0,4})-(sbx_[a-z2-7]{20})$/;
/** A custom subdomain: one DNS label (no underscore, so never mistaken for the form above). */
const subdomainPattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface DevUrlOptions {
  /** Host names under it are sandbox ports, e.g. `sandboxes.localhost`. */
  domain: string;
  /** Scheme and port of URLs handed out (the server's own, unless something fronts it). */
  scheme: 'http' | 'https';
  port: () => number;
  /** Signs access links; derived from the root key, so rotating it revokes every link. */
  secret: Buffer;
}

interface Target {
  sandboxId: string;
  port: number;
}

/**
 * Dev URLs: `http://{port}-{sandboxId}.{domain}` reaches a port inside a sandbox through the control plane,
 * which routes by the Host header alone and relays through the in-sandbox daemon (HTTP with streamed bodies
 * and server-sent events, WebSocket upgrades). A port is private unless made public: a request then needs an
 * API key of the sandbox's org (`sandboxes:write`) or a signed, expiring link, which revoking the port voids.
 */
export class DevUrls {
  /** Keep-alive pools of tunnels, one per sandbox port: a request reuses an idle tunnel to its port. */
  private readonly pools = new Map<string, Agent>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly sandboxes: SandboxService,
    private readonly authenticator: Authenticator,
    private readonly options: DevUrlOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * The sandbox port a Host header names: `{port}-{sandboxId}` or a custom subdomain, exactly one label in
   * front of the dev domain; undefined for anything else.
   */
  async target(host: string | undefined): Promise<Target | undefined> {
    if (!host) return undefined;
    const name = host.toLowerCase().replace(/:\d{1,5}$/, '');
    const suffix = `.${this.options.domain}`;
    if (!name.endsWith(suffix)) return undefined;
    const label = name.slice(0, -suffix.length);
    const match = labelPattern.exec(label);
    if (match?.[1] && match[2]) {
      const port = Number(match[1]);
      return port >= 1 && port <= 65535 ? { sandboxId: match[2], port } : undefined;
    }
    if (!subdomainPattern.test(label)) return undefined;
    const row = await this.db
      .selectFrom('sandbox_urls')
      .select(['sandbox_id', 'port'])
      .where('subdomain', '=', label)
      .executeTakeFirst();
    return row ? { sandboxId: row.sandbox_id, port: Number(row.port) } : undefined;
  }

  /** Whether a Host header is under the dev domain (handled here, never by the API), valid or not. */
  isDevHost(host: string | undefined): boolean {
    return Boolean(
      host
        ?.toLowerCase()
        .replace(/:\d{1,5}$/, '')
        .endsWith(`.${this.options.domain}`),
    );
  }

  private url(target: Target, subdomain?: string | null): string {
    const port = this.options.port();
    const standard =
      (this.options.scheme === 'http' && port === 80) || (this.options.scheme === 'https' && port === 443);
    const label = subdomain ?? `${target.port}-${target.sandboxId}`;
    return `${this.options.scheme}://${label}.${this.options.domain}${standard ? '' : `:${port}`}`;
  }

  private sign(target: Target, version: number, expires: number): string {
    return signClaims(this.options.secret, { s: target.sandboxId, p: target.port, v: version, e: expires });
  }

  /** Whether a token is a valid, unexpired link to this port at its current version. */
  private verify(token: string, target: Target, version: number): boolean {
    const claims = readClaims(this.options.secret, token);
    return claims?.s === target.sandboxId && claims.p === target.port && claims.v === version;
  }

  private async record(sandboxId: string, port: number) {
    return this.db
      .selectFrom('sandbox_urls')
      .selectAll()
      .where('sandbox_id', '=', sandboxId)
      .where('port', '=', port)
      .executeTakeFirst();
  }

  private describe(row: Database['sandbox_urls'], expiresIn?: number): SandboxUrl {
    const target = { sandboxId: row.sandbox_id, port: Number(row.port) };
    const url = this.url(target, row.subdomain);
    const subdomain = row.subdomain;
    if (Number(row.public) === 1)
      return { port: target.port, url, public: true, subdomain, signedUrl: null, signedUrlExpiresAt: null };
    const expires = Math.floor(Date.now() / 1000) + (expiresIn ?? defaultLinkSeconds);
    return {
      port: target.port,
      url,
      public: false,
      subdomain,
      signedUrl: `${url}/?${tokenParam}=${this.sign(target, Number(row.version), expires)}`,
      signedUrlExpiresAt: new Date(expires * 1000).toISOString(),
    };
  }

  /** Records the port (public or not) and answers its URL, with a fresh signed link when it is private. */
  async expose(
    auth: Actor,
    sandboxId: string,
    body: {
      port: number;
      public?: boolean | undefined;
      subdomain?: string | undefined;
      expiresIn?: number | undefined;
    },
  ): Promise<SandboxUrl> {
    const sandbox = await this.sandboxes.get(auth, sandboxId);
    if (sandbox.status === 'destroyed' || sandbox.status === 'destroying')
      throw new DomainError('sandbox_not_running', `sandbox ${sandboxId} is ${sandbox.status}`, {
        status: sandbox.status,
      });
    const existing = await this.record(sandboxId, body.port);
    const isPublic = body.public === undefined ? Number(existing?.public ?? 0) : body.public ? 1 : 0;
    const subdomain = body.subdomain ?? existing?.subdomain ?? null;
    try {
      if (existing) {
        await this.db
          .updateTable('sandbox_urls')
          .set({ public: isPublic, subdomain })
          .where('sandbox_id', '=', sandboxId)
          .where('port', '=', body.port)
          .execute();
      } else {
        await this.db
          .insertInto('sandbox_urls')
          .values({
            sandbox_id: sandboxId,
            port: body.port,
            org_id: auth.orgId,
            public: isPublic,
            version: 1,
            subdomain,
            created_at: nowIso(),
          })
          .execute();
      }
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // The subdomain belongs to another sandbox port (or two requests raced for this port's record).
      throw new DomainError('subdomain_taken', `the subdomain ${subdomain} is taken; pick another`, { subdomain });
    }
    this.ports.delete(`${sandboxId}:${body.port}`);
    return this.describe((await this.record(sandboxId, body.port)) as Database['sandbox_urls'], body.expiresIn);
  }

  /** By port (one URL per port of a sandbox). */
  async list(auth: Actor, sandboxId: string, page: PageRequest): Promise<Page<SandboxUrl>> {
    await this.sandboxes.get(auth, sandboxId);
    const select = this.db
      .selectFrom('sandbox_urls')
      .selectAll()
      .where('sandbox_id', '=', sandboxId)
      .where('org_id', '=', auth.orgId);
    const rows = await keysetPage(
      page,
      [{ column: 'port', direction: 'asc', type: 'number' }],
      (row: Database['sandbox_urls']) => [Number(row.port)],
      (keyset) => inPage(select, keyset).execute(),
    );
    return mapPage(rows, (row) => this.describe(row));
  }

  /** Private again, and every link handed out so far void. */
  async revoke(auth: Actor, sandboxId: string, port: number): Promise<{ id: string; deleted: true }> {
    await this.sandboxes.get(auth, sandboxId);
    const row = await this.record(sandboxId, port);
    if (row)
      await this.db
        .updateTable('sandbox_urls')
        .set({ public: 0, version: Number(row.version) + 1 })
        .where('sandbox_id', '=', sandboxId)
        .where('port', '=', port)
        .execute();
    this.ports.delete(`${sandboxId}:${port}`);
    return { id: `${sandboxId}:${port}`, deleted: true };
  }

  /**
   * Who may reach the port: anyone when it is public; else a key of the sandbox's org with `sandboxes:write`,
   * or a valid link (query, cookie or header), which only a `sandboxes:write` key can ask for. A live server's
   * endpoints write (a dev server's API, a debugger, a database console), so reaching them is acting in the
   * sandbox, like exec and the terminal: a read-only key lists ports and links but opens none.
   * Answers the org, or throws the refusal.
   */
  private async authorize(request: IncomingMessage, target: Target, token: string | undefined): Promise<string> {
    const { orgId, row } = await this.port(target);
    if (row && Number(row.public) === 1) return orgId;
    if (token && this.verify(token, target, Number(row?.version ?? 1)) && row) return orgId;
    const headers = { get: (name: string) => headerValue(request.headers[name]) };
    const key = keyFromHeaders(headers);
    if (key) {
      const auth = await this.authenticator.authenticate(key);
      if (auth.orgId !== orgId) throw new DomainError('sandbox_not_found', `no sandbox ${target.sandboxId}`);
      requireScopes(auth, ['sandboxes:write']);
      return orgId;
    }
    if (token) throw new DomainError('invalid_api_key', 'this link is invalid, expired or revoked; ask for a new one');
    throw new DomainError(
      'unauthenticated',
      `port ${target.port} of sandbox ${target.sandboxId} is private: send an API key (X-API-Key) or open a signed link (POST /v1/sandboxes/${target.sandboxId}/urls)`,
    );
  }

  /**
   * The sandbox's org and the port's record, kept for a second: a page load is dozens of requests to one
   * port. Changing or revoking the port drops it at once.
   */
  private readonly ports = new Map<string, { at: number; orgId: string; row: Database['sandbox_urls'] | undefined }>();

  private async port(target: Target): Promise<{ orgId: string; row: Database['sandbox_urls'] | undefined }> {
    const key = `${target.sandboxId}:${target.port}`;
    const cached = this.ports.get(key);
    if (cached && Date.now() - cached.at < 1000) return cached;
    const orgId = await this.sandboxes.orgOf(target.sandboxId);
    if (!orgId) throw new DomainError('sandbox_not_found', `no sandbox ${target.sandboxId}`);
    const entry = { at: Date.now(), orgId, row: await this.record(target.sandboxId, target.port) };
    if (this.ports.size > 10_000) this.ports.clear();
    this.ports.set(key, entry);
    return entry;
  }

  /** A tunnel to the port, waiting a little for a server that is still starting. */
  private async tunnel(orgId: string, target: Target): Promise<Duplex> {
    const deadline = Date.now() + portWaitMs;
    for (;;) {
      const channel = await this.sandboxes.channelInOrg(orgId, target.sandboxId);
      try {
        return await channel.tunnel(target.port);
      } catch (error) {
        if (!(error instanceof ChannelError && error.code === 'port_closed') || Date.now() > deadline) {
          if (error instanceof ChannelError && error.code === 'port_closed')
            throw new DomainError(
              'port_not_listening',
              `nothing is listening on port ${target.port} in sandbox ${target.sandboxId} (waited ${portWaitMs / 1000} s); start a server there on 0.0.0.0 or 127.0.0.1`,
              { port: target.port },
            );
          throw error instanceof ChannelError
            ? new DomainError('sandbox_unreachable', `sandbox ${target.sandboxId} does not answer: ${error.message}`)
            : error;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** The pool of tunnels to a sandbox port; new tunnels go through the daemon (waiting briefly for the port). */
  private pool(orgId: string, target: Target): Agent {
    const key = `${target.sandboxId}:${target.port}`;
    let agent = this.pools.get(key);
    if (!agent) {
      agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 60_000 });
      agent.createConnection = ((_options: unknown, callback: (error: Error | null, socket?: Duplex) => void) => {
        this.tunnel(orgId, target).then(
          (tunnel) => callback(null, tunnel),
          (error: Error) => callback(error),
        );
        return undefined;
      }) as unknown as Agent['createConnection'];
      this.pools.set(key, agent);
    }
    return agent;
  }

  /** Splits the link token off a request path: the app behind never sees it. */
  private static takeToken(request: IncomingMessage): { path: string; queryToken: string | undefined } {
    // Node's parser lets through targets no URL parser takes ('//', '//['): the caller's error, not ours.
    if (!URL.canParse(request.url ?? '/', 'http://dev'))
      throw new DomainError('validation_failed', 'the request target is not a path', { target: request.url ?? null });
    const url = new URL(request.url ?? '/', 'http://dev');
    const queryToken = url.searchParams.get(tokenParam) ?? undefined;
    url.searchParams.delete(tokenParam);
    return { path: `${url.pathname}${url.search}`, queryToken };
  }

  private static cookieToken(request: IncomingMessage): string | undefined {
    for (const part of (request.headers.cookie ?? '').split(';')) {
      const [name, ...value] = part.trim().split('=');
      if (name === tokenCookie) return value.join('=');
    }
    return undefined;
  }

  /** The request headers the app gets: ours (keys, tokens, our cookie) removed, forwarding headers added. */
  private static forwardedHeaders(request: IncomingMessage): string[] {
    const out: string[] = [];
    const raw = request.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) {
      const name = raw[index] as string;
      const value = raw[index + 1] as string;
      const lower = name.toLowerCase();
      if (lower === 'x-api-key' || lower === tokenHeader) continue;
      if (lower === 'authorization' && /^Bearer\s+rt_/i.test(value)) continue;
      if (lower === 'cookie') {
        const kept = value
          .split(';')
          .filter((part) => part.trim().split('=')[0] !== tokenCookie)
          .join(';')
          .trim();
        if (kept) out.push(name, kept);
        continue;
      }
      out.push(name, value);
    }
    out.push('X-Forwarded-For', request.socket.remoteAddress ?? '', 'X-Forwarded-Proto', 'http');
    return out;
  }

  /**
   * What every request to a dev URL host goes through first: the port its Host names, the path without a link
   * token, and the org it may reach (or the refusal, thrown).
   */
  private async admit(request: IncomingMessage) {
    const target = await this.target(request.headers.host);
    if (!target)
      throw new DomainError(
        'route_not_found',
        `${request.headers.host} is not a sandbox URL ({port}-{sandboxId}.${this.options.domain})`,
      );
    const { path, queryToken } = DevUrls.takeToken(request);
    const token = queryToken ?? headerValue(request.headers[tokenHeader]) ?? DevUrls.cookieToken(request);
    return { target, path, queryToken, orgId: await this.authorize(request, target, token) };
  }

  /** Serves one HTTP request to a dev URL host. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const { target, path, queryToken, orgId } = await this.admit(request);
      if (queryToken) {
        // A link opened in a browser: the token moves into a cookie for this host, and the URL loses it.
        response.writeHead(302, {
          location: path,
          'set-cookie': `${tokenCookie}=${queryToken}; Path=/; HttpOnly; SameSite=Lax`,
        });
        response.end();
        return;
      }
      // Running (resumed first with autoResume) before a pooled tunnel is trusted: a frozen one would hang.
      await this.sandboxes.channelInOrg(orgId, target.sandboxId);
      const upstream = httpRequest({
        method: request.method,
        path,
        headers: DevUrls.forwardedHeaders(request),
        agent: this.pool(orgId, target),
      });
      upstream.on('response', (answer) => {
        try {
          response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        } catch (error) {
          // What Node's client parser takes but its server refuses to send on (a status out of 100-999, a
          // control character in the reason or a header): the app's fault, answered as such, never thrown here.
          answer.resume();
          // writeHead kept the reason it refused: the error's own head must not carry it.
          response.statusMessage = '';
          this.fail(
            request,
            response,
            new DomainError(
              'sandbox_unreachable',
              `the app on port ${target.port} answered invalid HTTP: ${(error as Error).message}`,
            ),
          );
          return;
        }
        answer.pipe(response);
      });
      upstream.on('error', (error) => {
        if (!response.headersSent)
          this.fail(
            request,
            response,
            error instanceof DomainError ? error : new DomainError('sandbox_unreachable', error.message),
          );
        else response.destroy(error);
      });
      // A client that goes away mid-answer takes its tunnel with it (it cannot be reused half-read).
      response.on('close', () => {
        if (!response.writableFinished) upstream.destroy();
      });
      request.pipe(upstream);
    } catch (error) {
      this.fail(request, response, error);
    }
  }

  /** An error as JSON, or as a short page for a browser. */
  private fail(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    if (!(error instanceof DomainError)) this.logger.error({ err: error }, 'dev URL request failed');
    const failure = error instanceof DomainError ? error : new DomainError('internal_error', 'the request failed');
    const status = errorStatus[failure.code];
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if ((request.headers.accept ?? '').includes('text/html')) {
      response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        `<!doctype html><title>${failure.code}</title><h1>${status} ${failure.code}</h1><p>${escapeHtml(failure.message)}</p>\n`,
      );
      return;
    }
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(
      `${JSON.stringify({ error: { code: failure.code, message: failure.message, ...(failure.details ? { details: failure.details } : {}) } })}\n`,
    );
  }

  /** A WebSocket (or other) upgrade to a dev URL host: relayed as raw bytes once authorized. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    try {
      const { target, path, orgId } = await this.admit(request);
      const tunnel = await this.tunnel(orgId, target);
      // The client went away while the tunnel opened: nothing would ever close it.
      if (socket.destroyed) {
        tunnel.destroy();
        return;
      }
      const headers = DevUrls.forwardedHeaders(request);
      let head_ = `${request.method} ${path} HTTP/${request.httpVersion}\r\n`;
      for (let index = 0; index < headers.length; index += 2) head_ += `${headers[index]}: ${headers[index + 1]}\r\n`;
      tunnel.write(`${head_}\r\n`);
      if (head.length) tunnel.write(head);
      tunnel.pipe(socket);
      socket.pipe(tunnel);
      const close = () => {
        tunnel.destroy();
        socket.destroy();
      };
      tunnel.on('close', close);
      socket.on('close', close);
      tunnel.on('error', close);
    } catch (error) {
      refuseUpgrade(socket, error, 'the upgrade failed');
    }
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
}
