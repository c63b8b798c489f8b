import type { KeyObject } from 'node:crypto';
import {
  type MeshDeviceMessage,
  type MeshNodeConfig,
  type MeshOperation,
  MeshServerMessage,
  maxMeshMessageBytes,
  meshChannelPath,
  meshCloseCodes,
} from '@runtools/spec';
import WebSocket from 'ws';
import { signChallenge } from './keys.js';
import { OperationError } from './root-paths.js';

/** How a channel's run ended; anything else is reconnected. */
export type ChannelEnd =
  | { kind: 'stopped' }
  | { kind: 'revoked'; reason: string }
  | { kind: 'refused'; reason: string };

export interface ChannelOptions {
  server: string;
  nodeToken: string;
  identityKey: KeyObject;
  hello: {
    version?: string;
    listenPort: number | null;
    root: string | null;
    confined: boolean;
  };
  /** A config to apply: the welcome's (every connection) or a newer pushed one. */
  onConfig: (config: MeshNodeConfig) => Promise<void>;
  onOperation: (operation: MeshOperation, signal: AbortSignal) => Promise<unknown>;
  onConnected: (connected: boolean) => void;
  onHeartbeat: () => void;
  log: (line: string) => void;
  /** Backoff bounds; tests shorten them. */
  backoff?: { initialMs: number; maxMs: number };
}

/** The channel's URL: the server's, with ws: for http: and wss: for https:. */
export function channelUrl(server: string): string {
  return `${server.replace(/^http/, 'ws')}${meshChannelPath}`;
}

/** Full jitter on the upper half: many devices reconnecting after a server restart do not arrive together. */
export function backoffDelay(attempt: number, bounds = { initialMs: 250, maxMs: 5000 }): number {
  const ceiling = Math.min(bounds.maxMs, bounds.initialMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

type Connection = { kind: 'closed'; code: number; reason: string } | { kind: 'end'; end: ChannelEnd };

/**
 * The device's one outbound channel to the control plane. Answers the challenge, sends heartbeats, applies the
 * configs it is sent, runs the operations it is called for; reconnects with backoff until it is stopped, the
 * node is revoked, or its token is refused.
 */
export class MeshChannel {
  private socket: WebSocket | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly calls = new Map<string, AbortController>();
  private revision: number | null = null;

  constructor(private readonly options: ChannelOptions) {}

  /** Closes the channel; run() then resolves with `stopped`. */
  stop(): void {
    this.stopping = true;
    const socket = this.socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      socket.close(1000, 'the device is stopping');
      // A server that does not answer the close is not waited for (ws would wait 30 s).
      setTimeout(() => socket.terminate(), 2000).unref();
    }
    this.wake?.();
  }

  async run(): Promise<ChannelEnd> {
    let attempt = 0;
    let outage = false;
    while (!this.stopping) {
      const { connection, welcomed } = await this.connectOnce();
      this.abortCalls();
      if (connection.kind === 'end') return connection.end;
      if (this.stopping) break;
      if (connection.code === meshCloseCodes.revoked) return { kind: 'revoked', reason: connection.reason };
      if (connection.code === meshCloseCodes.refused) return { kind: 'refused', reason: connection.reason };
      if (connection.code === meshCloseCodes.replaced) {
        this.options.log('another connection of this node replaced this one');
      }
      if (welcomed) {
        attempt = 0;
        outage = false;
      }
      if (!outage) this.options.log('reconnecting');
      outage = true;
      await this.pause(backoffDelay(attempt, this.options.backoff));
      attempt += 1;
    }
    return { kind: 'stopped' };
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private abortCalls(): void {
    for (const controller of this.calls.values()) controller.abort();
    this.calls.clear();
  }

  private send(socket: WebSocket, message: MeshDeviceMessage): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  /** One connection, from the upgrade to its close. */
  private connectOnce(): Promise<{ connection: Connection; welcomed: boolean }> {
    const socket = new WebSocket(channelUrl(this.options.server), {
      headers: { authorization: `Bearer ${this.options.nodeToken}` },
      maxPayload: maxMeshMessageBytes,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    let welcomed = false;
    let heartbeat: NodeJS.Timeout | undefined;
    let lastHeard = Date.now();
    // Said once a connection: a server sending many bad messages does not flood the device's log.
    let ignoredAny = false;
    const ignored = (why: string) => {
      if (!ignoredAny) this.options.log(`ignored a message from the server (and any more this connection): ${why}`);
      ignoredAny = true;
    };
    // A server that never completes the handshake (or a half-open connection before the welcome).
    const welcomeTimer = setTimeout(() => socket.terminate(), 30_000);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (connection: Connection) => {
        if (settled) return;
        settled = true;
        clearTimeout(welcomeTimer);
        if (heartbeat) clearInterval(heartbeat);
        if (welcomed) this.options.onConnected(false);
        if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate();
        resolve({ connection, welcomed });
      };
      socket.on('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          if (body.length < 10_000) body += chunk.toString('utf8');
        });
        response.on('end', () => {
          let code = '';
          let message = `HTTP ${response.statusCode}`;
          try {
            const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
            code = parsed.error?.code ?? '';
            message = parsed.error?.message ?? message;
          } catch {}
          // The upgrade refused with an HTTP answer rather than a close code: the same meaning.
          if (code === 'node_revoked') finish({ kind: 'end', end: { kind: 'revoked', reason: message } });
          else if (response.statusCode === 401 || response.statusCode === 403) {
            finish({ kind: 'end', end: { kind: 'refused', reason: message } });
          } else finish({ kind: 'closed', code: 1006, reason: message });
        });
        response.on('error', () => finish({ kind: 'closed', code: 1006, reason: `HTTP ${response.statusCode}` }));
      });
      socket.on('error', (error) => finish({ kind: 'closed', code: 1006, reason: error.message }));
      socket.on('close', (code, reason) => finish({ kind: 'closed', code, reason: reason.toString('utf8') }));
      socket.on('pong', () => {
        lastHeard = Date.now();
      });
      socket.on('message', (data, isBinary) => {
        lastHeard = Date.now();
        if (isBinary) return;
        let raw: unknown;
        try {
          raw = JSON.parse(rawText(data));
        } catch {
          ignored('it is not JSON');
          return;
        }
        const parsed = MeshServerMessage.safeParse(raw);
        if (!parsed.success) {
          ignored(`it is not a message of the channel: ${parsed.error.issues[0]?.message ?? ''}`);
          return;
        }
        const message = parsed.data;
        switch (message.type) {
          case 'challenge':
            this.send(socket, {
              type: 'hello',
              signature: signChallenge(this.options.identityKey, message.nonce),
              ...(this.options.hello.version ? { version: this.options.hello.version } : {}),
              listenPort: this.options.hello.listenPort,
              root: this.options.hello.root,
              confined: this.options.hello.confined,
            });
            return;
          case 'welcome': {
            if (welcomed) return;
            welcomed = true;
            clearTimeout(welcomeTimer);
            this.options.log('connected');
            this.options.onConnected(true);
            const intervalMs = Math.max(1, message.heartbeatSeconds) * 1000;
            heartbeat = setInterval(() => {
              // Nothing heard (no message, no pong) for three beats: the connection is dead without a close.
              if (Date.now() - lastHeard > 3 * intervalMs) {
                socket.terminate();
                return;
              }
              this.send(socket, { type: 'heartbeat' });
              if (socket.readyState === WebSocket.OPEN) socket.ping();
              this.options.onHeartbeat();
            }, intervalMs);
            this.send(socket, { type: 'heartbeat' });
            this.options.onHeartbeat();
            this.applyConfig(message.config, true);
            return;
          }
          case 'config':
            if (welcomed) this.applyConfig(message.config, false);
            return;
          case 'call':
            if (welcomed) this.call(socket, message.id, message.operation);
            return;
          case 'cancel':
            this.calls.get(message.id)?.abort();
            this.calls.delete(message.id);
            return;
          case 'revoked':
            finish({ kind: 'end', end: { kind: 'revoked', reason: message.reason } });
            return;
        }
      });
    });
  }

  /** Applies configs in order, each only when newer than the last (the welcome's always: a new connection). */
  private configQueue: Promise<void> = Promise.resolve();
  private applyConfig(config: MeshNodeConfig, welcome: boolean): void {
    this.configQueue = this.configQueue.then(async () => {
      if (!welcome && this.revision !== null && config.revision <= this.revision) return;
      this.revision = config.revision;
      try {
        await this.options.onConfig(config);
      } catch (error) {
        this.options.log(`could not apply config ${config.revision}: ${(error as Error).message}`);
      }
    });
  }

  private call(socket: WebSocket, id: string, operation: MeshOperation): void {
    if (this.calls.has(id)) return;
    const controller = new AbortController();
    this.calls.set(id, controller);
    void this.options
      .onOperation(operation, controller.signal)
      .then(
        (value): MeshDeviceMessage => ({ type: 'result', id, ok: true, value }),
        (error: unknown): MeshDeviceMessage => {
          const known = error instanceof OperationError;
          const message = (error instanceof Error ? error.message : String(error)).slice(0, 10_000);
          return { type: 'result', id, ok: false, error: { code: known ? error.code : 'failed', message } };
        },
      )
      .then((result) => {
        // A cancelled call (or one whose connection is gone) has no one waiting for its result.
        if (controller.signal.aborted || this.calls.get(id) !== controller) return;
        this.calls.delete(id);
        let text = JSON.stringify(result);
        if (Buffer.byteLength(text) > maxMeshMessageBytes) {
          text = JSON.stringify({
            type: 'result',
            id,
            ok: false,
            error: { code: 'too_large', message: `the result has more than ${maxMeshMessageBytes} bytes` },
          } satisfies MeshDeviceMessage);
        }
        if (socket.readyState === WebSocket.OPEN) socket.send(text);
      });
  }
}
