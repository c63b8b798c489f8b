import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, InternalServerError, RateLimitError, RunTools, TimeoutError } from './index.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A local HTTP server that answers with the scripted statuses in order, then 200. */
async function scripted(statuses: number[], options: { retryAfter?: string; delayMs?: number } = {}) {
  const seen: string[] = [];
  server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const status = statuses.shift() ?? 200;
    setTimeout(() => {
      response.setHeader('content-type', 'application/json');
      if (options.retryAfter) response.setHeader('retry-after', options.retryAfter);
      if (status === 200) response.end(JSON.stringify({ data: [] }));
      else
        response.writeHead(status).end(
          JSON.stringify({
            error: { code: status === 429 ? 'rate_limited' : 'service_unavailable', message: 'try later' },
          }),
        );
    }, options.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen };
}

describe('HTTP retries', () => {
  it('retries an idempotent call on 503 and 429, then succeeds', async () => {
    const { url, seen } = await scripted([503, 429], { retryAfter: '0' });
    const rt = new RunTools({ apiKey: 'k', baseUrl: url, maxRetries: 2 });
    expect(await rt.secrets.list()).toEqual([]);
    expect(seen).toEqual(['GET /v1/secrets', 'GET /v1/secrets', 'GET /v1/secrets']);
  });

  it('gives up after maxRetries with the error class of the last answer', async () => {
    const { url, seen } = await scripted([429, 429, 429], { retryAfter: '0' });
    const rt = new RunTools({ apiKey: 'k', baseUrl: url, maxRetries: 1 });
    await expect(rt.secrets.list()).rejects.toBeInstanceOf(RateLimitError);
    expect(seen).toHaveLength(2);
  });

  it('never retries a POST', async () => {
    const { url, seen } = await scripted([503]);
    const rt = new RunTools({ apiKey: 'k', baseUrl: url, maxRetries: 3 });
    await expect(rt.secrets.set('A', 'b')).rejects.toBeInstanceOf(InternalServerError);
    expect(seen).toEqual(['POST /v1/secrets']);
  });

  it('turns a refused connection into ConnectionError and a slow answer into TimeoutError', async () => {
    const refused = new RunTools({ apiKey: 'k', baseUrl: 'http://127.0.0.1:1', maxRetries: 0 });
    await expect(refused.secrets.list()).rejects.toBeInstanceOf(ConnectionError);
    const { url } = await scripted([200], { delayMs: 500 });
    const slow = new RunTools({ apiKey: 'k', baseUrl: url, maxRetries: 0, timeoutMs: 50 });
    await expect(slow.secrets.list()).rejects.toBeInstanceOf(TimeoutError);
  });

  it('keeps a path in the base URL, for servers behind a reverse proxy', async () => {
    const { url, seen } = await scripted([]);
    const rt = new RunTools({ apiKey: 'k', baseUrl: `${url}/runtools/` });
    await rt.secrets.get('A B');
    expect(seen).toEqual(['GET /runtools/v1/secrets/A%20B']);
  });

  it('sends the key as a bearer token', async () => {
    let authorization: string | undefined;
    server = createServer((request, response) => {
      authorization = request.headers.authorization;
      response.setHeader('content-type', 'application/json');
      response.end('{"data":[]}');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const rt = new RunTools({
      apiKey: 'rt_secret',
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    await rt.sshKeys.list();
    expect(authorization).toBe('Bearer rt_secret');
  });
});
