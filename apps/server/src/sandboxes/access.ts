import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { DomainError } from '../errors.js';
import { errorStatus } from '../http/errors.js';

/** What a terminal or SSH session runs without a command: bash where the template has it, else sh. */
export const loginShell = ['/bin/sh', '-c', 'if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi'];

/** Claims signed into a token: `<base64url JSON>.<base64url HMAC-SHA256>`; `e` is the expiry in epoch seconds. */
export function signClaims(secret: Buffer, claims: Record<string, unknown> & { e: number }): string {
  const payload = Buffer.from(JSON.stringify(claims));
  const mac = createHmac('sha256', secret).update(payload).digest();
  return `${payload.toString('base64url')}.${mac.toString('base64url')}`;
}

/** The claims of a token `secret` signed that has not expired; undefined for anything else. */
export function readClaims(secret: Buffer, token: string): Record<string, unknown> | undefined {
  const [payload, mac] = token.split('.');
  if (!payload || !mac) return undefined;
  const raw = Buffer.from(payload, 'base64url');
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    return typeof claims.e === 'number' && claims.e * 1000 > Date.now() ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Answers a refused upgrade (WebSocket) on its raw socket, as the API answers errors, and closes it. */
export function refuseUpgrade(socket: Duplex, error: unknown, fallback: string): void {
  const failure = error instanceof DomainError ? error : new DomainError('internal_error', fallback);
  const body = JSON.stringify({ error: { code: failure.code, message: failure.message } });
  socket.end(
    `HTTP/1.1 ${errorStatus[failure.code]} ${failure.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
