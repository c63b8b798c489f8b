import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { type RouteContract, routes } from '@runtools/spec';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { absentParams, concretePath, linkNode, wellFormed } from '../support/route-params.js';
import { type TestServer, useSandboxServer } from '../support/server.js';

/**
 * Property: for every route of the contract table, no request (malformed, oversized or hostile path parameters,
 * query, headers and body) gets a 5xx, and the server answers its health check after each. Seeded and bounded,
 * so a failure replays; fast-check shrinks it to the smallest request that fails.
 */
// RUNTOOLS_FUZZ_RUNS and RUNTOOLS_FUZZ_SEED explore further by hand; CI runs the fixed ones.
const runsPerRoute = Number(process.env.RUNTOOLS_FUZZ_RUNS) || 24;
const seed = Number(process.env.RUNTOOLS_FUZZ_SEED) || 20_261_203;

/** Strings that have broken path handling somewhere: traversal, NUL, encodings, lengths, odd characters. */
const hostileStrings = [
  '',
  '.',
  '..',
  '../../etc/passwd',
  '/etc/passwd',
  '%2e%2e%2f',
  '\u0000',
  'a\u0000b',
  '\r\nX-Injected: 1',
  'x'.repeat(5000),
  '𝕏😀',
  '\u202e',
  ' ',
  '*',
  '?',
  '#',
  '%',
  '{}',
  '[]',
  'null',
  '-1',
  '1e309',
  '0x10',
  '99999999999999999999',
  '__proto__',
  'constructor',
  'sbx_aaaaaaaaaaaaaaaaaaaa/..',
  'sbx_AAAAAAAAAAAAAAAAAAAA',
];

const hostileString = fc.oneof(
  fc.constantFrom(...hostileStrings),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** A header value fetch can send (bytes 0x20-0x7e). */
const headerValue = fc.oneof(
  fc.constantFrom(
    '',
    'x',
    'Bearer',
    'Bearer ',
    'Bearer rt_',
    `Bearer ${'x'.repeat(8000)}`,
    'Basic Zm9vOmJhcg==',
    'rt_aaaaaaaa_',
  ),
  fc.string({ maxLength: 60 }).map((value) => value.replace(/[^\x20-\x7e]/g, '')),
);

const contentTypes = [
  'application/json',
  'application/json; charset=utf-16',
  'application/merge-patch+json',
  'text/plain',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'multipart/form-data; boundary=',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  '',
];

/** Values a field may be sent: hostile strings, numbers at their edges, wrong types. */
const fieldValue = fc.oneof(
  hostileString,
  fc.constantFrom(0, -1, 1, 65_536, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 0.5, true, false, null),
  fc.integer(),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

/** An object with the fields a route's body schema names (so that it gets past the parser more often). */
function shapedBody(contract: RouteContract) {
  const shape = (contract.body as { shape?: Record<string, unknown> } | undefined)?.shape;
  const fields = Object.keys(shape ?? {});
  if (fields.length === 0) return fc.constant('{}');
  return fc
    .dictionary(fc.constantFrom(...fields), fieldValue, { maxKeys: fields.length })
    .map((value) => JSON.stringify(value));
}

/** Bodies: JSON of any shape, text, bytes, and a few known-nasty ones (deep nesting, big, prototype keys). */
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.constantFrom(
    `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
    `{"a":"${'x'.repeat(2 * 1024 * 1024)}"}`,
    '{"__proto__":{"admin":true},"constructor":{"prototype":{"polluted":1}}}',
    '{"path":"/\\u0000","from":"..","to":"../..","name":"\\u0000"}',
    '--x\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\n\r\nH',
    '--x\r\nContent-Disposition: form-data; name="file"; filename="../../x"\r\n\r\nH\r\n--x--\r\n',
    '\uFEFF{}',
    '',
  ),
);

/** Creating a sandbox or building a template from a body that happens to be valid costs minutes: kept absent. */
function harmless(routeId: string, text: string): string {
  if (routeId !== 'sandboxesCreate' && routeId !== 'templatesCreate') return text;
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value))
      return JSON.stringify({ ...value, template: 'fuzz-no-such-template', base: 'fuzz-no-such-template' });
  } catch {}
  return text;
}

/**
 * One request on a connection of its own (a server that closes a connection after refusing a large body must
 * not make the next request fail): its status, or `closed` when the connection ended without an answer.
 */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  payload: string | undefined,
): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const outgoing = httpRequest(`${base}${path}`, { method, headers, agent: false }, (response) => {
      response.resume();
      response.on('error', () => {});
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', () => resolve('closed'));
    outgoing.end(payload === undefined ? undefined : Buffer.from(payload, 'utf8'));
  });
}

const encode = (value: string) => encodeURIComponent(wellFormed(value));

/** Routes that would end, freeze or copy the shared sandbox (or cost minutes): they get an absent one. */
const sparesTheSandbox = new Set(['sandboxesDestroy', 'sandboxesPause', 'sandboxesBranch', 'sandboxesSnapshotsCreate']);

describe('every route of the contract table under hostile input', () => {
  const fixture = useSandboxServer({ RUNTOOLS_RATE_LIMIT_PER_MINUTE: '0' });
  let server: TestServer;
  let params: Record<string, string>;
  let sandboxId: string;

  beforeAll(async () => {
    server = fixture.server;
    sandboxId = fixture.track(await fixture.rt.sandboxes.create({ runtime: 'container' })).id;
    // A real workspace, sandbox and RunMesh node, and the caller's own org, project and member: their routes
    // reach their handlers.
    const me = (await (await server.request('GET', '/v1/me')).json()) as {
      org: { id: string };
      project: { id: string };
      member: { id: string };
    };
    const workspace = (await (await server.request('POST', '/v1/workspaces', { body: { name: 'fuzz' } })).json()) as {
      id: string;
    };
    params = {
      ...absentParams,
      orgId: me.org.id,
      projectId: me.project.id,
      memberId: me.member.id,
      workspaceId: workspace.id,
      node: (await linkNode(server, 'fuzz')).node.id,
      member: me.member.id,
    };
  }, 15 * 60_000);

  it.each(Object.entries(routes) as [string, RouteContract][])(
    '%s: no 5xx, and the server still answers',
    async (routeId, contract) => {
      const names = [...contract.path.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1] as string);
      const request = fc.record({
        // Each parameter: the well-formed value, or a hostile one.
        path: fc.tuple(...names.map(() => fc.option(hostileString, { freq: 2 }))),
        query: fc.dictionary(
          fc.oneof(
            fc.constantFrom('path', 'limit', 'cursor', 'status', 'token', 'from', 'follow', 'append'),
            fc.string({ maxLength: 8 }),
          ),
          hostileString,
          { maxKeys: 3 },
        ),
        // Sent as is: percent-encodings that decode to no valid UTF-8, or decode at all.
        rawQuery: fc.option(
          fc.constantFrom(
            'path=%ED%A0%80',
            'path=/%FF%FE',
            'path=%',
            'path=%zz',
            'path=/%00&download=true',
            'path=/a%ED%A0%80.txt&download=true',
            '%ED%A0%80=1',
            'path=/x&path=/y&path[]=z',
            'limit=1e999&cursor=%C0%AF',
          ),
          { freq: 3 },
        ),
        contentType: fc.constantFrom(...contentTypes),
        body: fc.option(fc.oneof(body, shapedBody(contract)), { freq: 4 }),
        key: fc.oneof(
          fc.constant<'admin'>('admin'),
          fc.constant<'admin'>('admin'),
          fc.constant<null>(null),
          headerValue,
        ),
        requestId: fc.option(headerValue),
        accept: fc.option(fc.constantFrom('text/html', 'text/event-stream', '*/*', 'application/json;q=0', 'x')),
      });
      await fc.assert(
        fc.asyncProperty(request, async (input) => {
          const values: Record<string, string> = { ...params, ...(sparesTheSandbox.has(routeId) ? {} : { sandboxId }) };
          names.forEach((name, index) => {
            const hostile = input.path[index];
            if (hostile !== null && hostile !== undefined) values[name] = hostile;
          });
          const path = concretePath(contract.path, values);
          const query = [
            ...Object.entries(input.query).map(([name, value]) => `${encode(name)}=${encode(value)}`),
            ...(input.rawQuery === null ? [] : [input.rawQuery]),
          ].join('&');
          const headers: Record<string, string> = {};
          if (input.key === 'admin') headers['x-api-key'] = server.adminKey;
          else if (input.key !== null) headers.authorization = input.key;
          if (input.requestId !== null) headers['x-request-id'] = input.requestId;
          if (input.accept !== null) headers.accept = input.accept;
          const sendsBody = input.body !== null && contract.method !== 'GET';
          if (sendsBody && input.contentType) headers['content-type'] = input.contentType;
          const payload = sendsBody ? harmless(routeId, input.body as string) : undefined;
          const status = await send(
            server.url,
            contract.method,
            `${path}${query ? `?${query}` : ''}`,
            headers,
            payload,
          );
          // A body over the limit may be cut off by the server closing the connection (after a 413 it does
          // not read on): no answer then, but never a 5xx.
          if (status === 'closed') expect(payload?.length ?? 0).toBeGreaterThan(1024 * 1024);
          else expect(status, `${contract.method} ${path}?${query}`).toBeLessThan(500);
          expect(await send(server.url, 'GET', '/v1/health', {}, undefined)).toBe(200);
        }),
        { numRuns: runsPerRoute, seed, endOnFailure: false },
      );
    },
  );

  /** Bytes written to a fresh connection (after `prefix`), then the connection closed; resolves when it is gone. */
  function raw(port: number, prefix: Buffer | string, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.on('close', () => resolve());
      socket.on('connect', () => {
        socket.write(prefix);
        socket.end(bytes);
      });
    });
  }

  /** WebSocket frames as a client sends them, some well-formed, most not. */
  const frames = fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .record({
          head: fc.integer({ min: 0, max: 255 }),
          mask: fc.boolean(),
          length: fc.constantFrom(0, 5, 125, 126, 127, 65_535, 2 ** 20 + 1, 2 ** 32, 2 ** 53 - 1),
          payload: fc.uint8Array({ maxLength: 200 }),
        })
        .map(({ head, mask, length, payload }) => {
          const size =
            length < 126
              ? Buffer.from([mask ? 0x80 | length : length])
              : length < 65_536
                ? Buffer.from([mask ? 0xfe : 0x7e, length >> 8, length & 0xff])
                : Buffer.concat([Buffer.from([mask ? 0xff : 0x7f]), bigEndian64(length)]);
          return Buffer.concat([Buffer.from([head]), size, mask ? Buffer.alloc(4, 7) : Buffer.alloc(0), payload]);
        }),
    ),
    { maxLength: 6 },
  );

  it('the terminal WebSocket: any frames after the handshake, and the server still answers', async () => {
    const port = Number(new URL(server.url).port);
    const handshake = `GET /v1/sandboxes/${sandboxId}/terminal HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${server.adminKey}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    await fc.assert(
      fc.asyncProperty(frames, async (sent) => {
        await raw(port, handshake, Buffer.concat(sent));
        expect(await send(server.url, 'GET', '/v1/health', {}, undefined)).toBe(200);
      }),
      { numRuns: runsPerRoute, seed },
    );
  });

  it('the SSH gateway: any bytes after a version line, and the server still answers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('SSH-2.0-fuzz\r\n', '', 'SSH-1.5-old\r\n', `SSH-2.0-${'x'.repeat(300)}\r\n`),
        fc.uint8Array({ maxLength: 4096 }),
        async (version, bytes) => {
          await raw(server.running.sshPort, version, bytes);
          expect(await send(server.url, 'GET', '/v1/health', {}, undefined)).toBe(200);
        },
      ),
      { numRuns: runsPerRoute, seed },
    );
  });
});

function bigEndian64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(value));
  return buffer;
}
