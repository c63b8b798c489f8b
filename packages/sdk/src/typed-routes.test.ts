import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8, utf8Text } from './bytes.js';
import { HttpClient } from './http.js';

let server: Server;
let baseUrl: string;
const seen: { method: string; url: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', body: Buffer.concat(chunks).toString() });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ answered: request.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = () =>
  new HttpClient({ baseUrl, apiKey: 'k', maxRetries: 0, timeoutMs: 5000, fetch: globalThis.fetch, userAgent: 't' });

describe('calls named by route id', () => {
  it('fills the path parameters, sends query values as strings (leaving undefined ones out) and the JSON body', async () => {
    const http = client();
    const answer = await http.call('sandboxesLogs', {
      params: { sandboxId: 'sbx_abc' },
      query: { after: 5, limit: undefined },
    });
    expect(answer).toEqual({ answered: '/v1/sandboxes/sbx_abc/logs?after=5' });
    await http.call('sandboxesExec', { params: { sandboxId: 'sbx_abc' }, body: { command: 'ls' } });
    await http.call('health');
    expect(seen).toEqual([
      { method: 'GET', url: '/v1/sandboxes/sbx_abc/logs?after=5', body: '' },
      { method: 'POST', url: '/v1/sandboxes/sbx_abc/exec', body: '{"command":"ls"}' },
      { method: 'GET', url: '/v1/health', body: '' },
    ]);
  });
});

/**
 * Compile-time checks, never run: the test command's `tsc -p tsconfig.test.json` fails on any of these lines
 * whose `@ts-expect-error` finds no error, so each asserts that the route table types the call.
 */
export function typedByTheRouteTable(http: HttpClient) {
  // @ts-expect-error a route with path parameters cannot be called without them
  void http.call('sandboxesGet');
  // @ts-expect-error a route id the table does not have
  void http.call('sandboxesTeleport');
  // @ts-expect-error a body field the route's schema does not have
  void http.call('sandboxesExec', { params: { sandboxId: 's' }, body: { commmand: 'ls' } });
  // @ts-expect-error a body the route needs, left out
  void http.call('sandboxesExec', { params: { sandboxId: 's' } });
  // @ts-expect-error a query value outside the schema's enum
  void http.call('sandboxFilesWatch', { params: { sandboxId: 's' }, query: { path: '/', recursive: 'yes' } });
  const exec: Promise<{ exitCode: number; stdout: string }> = http.call('sandboxesExec', {
    params: { sandboxId: 's' },
    body: { command: 'ls' },
  });
  // @ts-expect-error a sandbox record is no exec result: the answer's type is the route's
  const record: Promise<{ exitCode: number }> = http.call('sandboxesGet', { params: { sandboxId: 's' } });
  return [exec, record];
}

describe('bytes without Buffer', () => {
  it('encodes and decodes base64 and UTF-8 as Node does, at sizes around the chunking', () => {
    for (const size of [0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 200_000]) {
      const bytes = new Uint8Array(randomBytes(size));
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(Buffer.from(fromBase64(text)).equals(Buffer.from(bytes))).toBe(true);
    }
    expect(utf8Text(utf8('héllo ✓'))).toBe('héllo ✓');
    expect(Buffer.from(utf8('héllo')).equals(Buffer.from('héllo', 'utf8'))).toBe(true);
  });
});
