import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Actor } from '../auth/actor.js';
import type { Authenticator } from '../auth/authenticate.js';
import { keyFromHeaders, requireScopes } from '../auth/authenticate.js';
import { DomainError } from '../errors.js';
import { loginShell, readClaims, refuseUpgrade, signClaims } from './access.js';
import type { SandboxService } from './sandbox-service.js';

const pathPattern = /^\/v1\/sandboxes\/(sbx_[a-z2-7]{20})\/terminal$/;
const tokenSeconds = 60;

/**
 * The web terminal: a WebSocket at `/v1/sandboxes/:id/terminal` bound to a login shell on a pseudo-terminal
 * in the sandbox. Binary messages are terminal bytes both ways; text messages are JSON control: the client
 * sends `{ "type": "resize", "cols", "rows" }`, the server ends with `{ "type": "exit", "exitCode" }`. It is
 * opened with an API key (`X-API-Key` / Bearer, for programs) or a token from
 * `POST /v1/sandboxes/:id/terminal/token` (`?token=`, for browsers, which cannot set headers on a WebSocket),
 * valid for a minute and for one terminal. Closing the socket kills the shell and everything it started. A
 * client that breaks the protocol (a frame over 1 MiB, garbage) loses its socket, nothing else.
 */
export class Terminals {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  /** Tokens already used (by their nonce), until they expire: a token opens one terminal. */
  private readonly usedTokens = new Map<string, number>();

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly authenticator: Authenticator,
    private readonly secret: Buffer,
    private readonly logger: Logger,
  ) {}

  /** The sandbox a terminal path names, or undefined when the path is not a terminal's (or not a URL at all). */
  sandboxOf(url: string | undefined): string | undefined {
    if (!URL.canParse(url ?? '/', 'http://x')) return undefined;
    return pathPattern.exec(new URL(url ?? '/', 'http://x').pathname)?.[1];
  }

  /** Records a token's nonce; false when it was used before (or has none: tokens from before nonces). */
  private firstUse(claims: Record<string, unknown>): boolean {
    const now = Date.now();
    for (const [nonce, expires] of this.usedTokens) if (expires <= now) this.usedTokens.delete(nonce);
    if (typeof claims.n !== 'string' || this.usedTokens.has(claims.n)) return false;
    this.usedTokens.set(claims.n, Number(claims.e) * 1000);
    return true;
  }

  async token(auth: Actor, sandboxId: string): Promise<{ token: string; expiresAt: string }> {
    requireScopes(auth, ['sandboxes:write']);
    await this.sandboxes.get(auth, sandboxId);
    const expires = Math.floor(Date.now() / 1000) + tokenSeconds;
    return {
      token: signClaims(this.secret, {
        s: sandboxId,
        o: auth.orgId,
        e: expires,
        n: randomBytes(12).toString('base64url'),
      }),
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }

  /** The org allowed to open this sandbox's terminal, from a key or a token; throws the refusal. */
  private async authorize(request: IncomingMessage, sandboxId: string): Promise<string> {
    const token = new URL(request.url ?? '/', 'http://x').searchParams.get('token');
    if (token) {
      const claims = readClaims(this.secret, token);
      if (claims?.s === sandboxId && typeof claims.o === 'string' && this.firstUse(claims)) return claims.o;
      throw new DomainError('invalid_api_key', 'the terminal token is invalid, expired or used; ask for a new one');
    }
    const auth = await this.authenticator.authenticate(
      keyFromHeaders({ get: (name) => [request.headers[name]].flat()[0] }),
    );
    requireScopes(auth, ['sandboxes:write']);
    return auth.orgId;
  }

  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const sandboxId = this.sandboxOf(request.url) as string;
    let channel: Awaited<ReturnType<SandboxService['channelInOrg']>>;
    try {
      const orgId = await this.authorize(request, sandboxId);
      channel = await this.sandboxes.channelInOrg(orgId, sandboxId);
    } catch (error) {
      if (!(error instanceof DomainError)) this.logger.error({ err: error }, 'terminal upgrade failed');
      refuseUpgrade(socket, error, 'the terminal failed');
      return;
    }
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const size = (name: string, fallback: number) => {
      const value = Number(query.get(name));
      return Number.isInteger(value) && value >= 1 && value <= 1000 ? value : fallback;
    };
    this.server.handleUpgrade(request, socket, head, (ws) =>
      this.attach(ws, channel, { cols: size('cols', 80), rows: size('rows', 24) }),
    );
  }

  private attach(
    ws: WebSocket,
    channel: Awaited<ReturnType<SandboxService['channelInOrg']>>,
    size: { cols: number; rows: number },
  ): void {
    const running = channel.exec(
      { argv: loginShell, pty: size, env: { TERM: 'xterm-256color' } },
      { onStdout: (chunk) => ws.send(chunk, { binary: true }) },
    );
    // A protocol error (an oversized or malformed frame): ws closes the socket (1009, 1002…) and reports it
    // here; an 'error' without a listener would end the process.
    ws.on('error', (error) => this.logger.debug({ err: error }, 'terminal socket error'));
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        void running.write(data).catch(() => {});
        return;
      }
      try {
        const message = JSON.parse(data.toString('utf8')) as { type?: string; cols?: unknown; rows?: unknown } | null;
        if (message?.type === 'resize' && isDimension(message.cols) && isDimension(message.rows))
          running.resize(message.cols, message.rows);
        else if (message?.type === 'input' && typeof (message as { data?: unknown }).data === 'string')
          void running.write((message as { data: string }).data).catch(() => {});
      } catch {
        ws.send(JSON.stringify({ type: 'error', message: 'control messages are JSON: {"type":"resize",...}' }));
      }
    });
    ws.on('close', () => running.cancel());
    running.done.then(
      (outcome) => {
        ws.send(JSON.stringify({ type: 'exit', exitCode: outcome.exitCode }));
        ws.close(1000, 'exited');
      },
      (error: Error) => {
        ws.send(JSON.stringify({ type: 'error', message: error.message }));
        ws.close(1011, 'sandbox unreachable');
      },
    );
  }
}

/** A terminal width or height a pseudo-terminal takes (the daemon's are 16-bit). */
export function isDimension(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 1000;
}
