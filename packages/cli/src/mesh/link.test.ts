import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type MeshLinkCreated, MeshLinkCreateRequest, MeshNodeName, MeshPlatform } from '@runtools/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import { createLink, defaultNodeName, devicePlatform, normalizeServer, waitForApproval } from './link.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** An HTTP server on loopback answering each request with `answer`; returns its base URL. */
async function serve(answer: (request: IncomingMessage, body: string, response: ServerResponse) => void) {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => answer(request, body, response));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

const link: MeshLinkCreated = {
  linkId: 'mln_aaaaaaaaaaaaaaaaaaaa',
  code: 'ABCD-2345',
  pollToken: 'rtp_poll',
  expiresAt: new Date(Date.now() + 600_000).toISOString(),
  pollIntervalSeconds: 1,
};
const node = { id: 'mnd_aaaaaaaaaaaaaaaaaaaa', name: 'laptop', address: '100.64.0.2' };
const config = {
  node,
  interface: { address: '100.64.0.2/10', publicKey: `${'A'.repeat(43)}=`, listenPort: null },
  peers: [],
  revision: 1,
};
const noWait = { log: () => {}, sleep: async () => {} };

describe('link names and platform', () => {
  it('makes a node name from a hostname', () => {
    expect(defaultNodeName('My_Laptop.local')).toBe('my-laptop');
    expect(defaultNodeName('--Build--Box--')).toBe('build-box');
    expect(defaultNodeName('___')).toBe('device');
    const long = defaultNodeName(`${'a'.repeat(62)}-b${'c'.repeat(10)}`);
    expect(MeshNodeName.safeParse(long).success).toBe(true);
    expect(long).toBe('a'.repeat(62));
  });

  it('names the platform as the spec takes it', () => {
    expect(MeshPlatform.safeParse(devicePlatform()).success).toBe(true);
    expect(devicePlatform()).toBe(`${process.platform}-${process.arch}`);
  });

  it('recognises a server however it was typed, and refuses what is not http(s)', () => {
    expect(normalizeServer('http://127.0.0.1:7400/')).toBe('http://127.0.0.1:7400');
    expect(() => normalizeServer('ftp://example.com')).toThrow(UserError);
    expect(() => normalizeServer('not a url')).toThrow(UserError);
  });
});

describe('the link flow', () => {
  it('creates a link with the device keys and no API key', async () => {
    let seen: { method?: string; path?: string; authorization?: string; body?: unknown } = {};
    const server = await serve((request, body, response) => {
      seen = {
        method: request.method,
        path: request.url,
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        body: JSON.parse(body),
      };
      json(response, 201, link);
    });
    const body = {
      name: 'laptop',
      publicKey: `${'A'.repeat(43)}=`,
      identityKey: `${'A'.repeat(43)}`,
      platform: 'linux-x64',
      version: '0.1.0',
    };
    expect(await createLink(server, body)).toEqual(link);
    expect(seen).toEqual({ method: 'POST', path: '/v1/mesh/links', body });
    expect(MeshLinkCreateRequest.safeParse(seen.body).success).toBe(true);
  });

  it("shows the server's error when the link is refused", async () => {
    const server = await serve((_request, _body, response) =>
      json(response, 429, { error: { code: 'rate_limited', message: 'too many links from this address' } }),
    );
    await expect(
      createLink(server, { name: 'laptop', publicKey: 'k', identityKey: 'k', platform: 'linux-x64' }),
    ).rejects.toThrow('could not start linking: too many links from this address (rate_limited)');
  });

  it('polls with the poll token until approved, and returns the node, its token and config', async () => {
    const polls: (string | undefined)[] = [];
    const server = await serve((request, _body, response) => {
      polls.push(request.headers.authorization);
      if (polls.length < 3) json(response, 200, { linkId: link.linkId, status: 'pending', expiresAt: link.expiresAt });
      else
        json(response, 200, {
          linkId: link.linkId,
          status: 'approved',
          expiresAt: link.expiresAt,
          node,
          nodeToken: 'rtn_token',
          config,
        });
    });
    const approved = await waitForApproval(server, link, noWait);
    expect(polls).toEqual(['Bearer rtp_poll', 'Bearer rtp_poll', 'Bearer rtp_poll']);
    expect(approved.nodeToken).toBe('rtn_token');
    expect(approved.node).toEqual(node);
    expect(approved.config.revision).toBe(1);
  });

  it('fails when the link is denied, and when it expires', async () => {
    const denied = await serve((_request, _body, response) =>
      json(response, 200, { linkId: link.linkId, status: 'denied', expiresAt: link.expiresAt }),
    );
    await expect(waitForApproval(denied, link, noWait)).rejects.toMatchObject({
      message: 'the link was denied',
      exitCode: 1,
    });
    const expired = await serve((_request, _body, response) =>
      json(response, 200, { linkId: link.linkId, status: 'expired', expiresAt: link.expiresAt }),
    );
    await expect(waitForApproval(expired, link, noWait)).rejects.toThrow(
      'the link code expired; run runtools mesh up again',
    );
  });

  it('keeps polling through a server error, and fails on an approval without the token', async () => {
    let polls = 0;
    const server = await serve((_request, _body, response) => {
      polls += 1;
      if (polls === 1) json(response, 503, { error: { code: 'service_unavailable', message: 'restarting' } });
      else json(response, 200, { linkId: link.linkId, status: 'approved', expiresAt: link.expiresAt, node });
    });
    await expect(waitForApproval(server, link, noWait)).rejects.toThrow(/no node token/);
    expect(polls).toBe(2);
  });
});
