import { generateKeyPairSync } from 'node:crypto';
import { RunTools } from '@runtools/sdk';
import type { MeshLinkPoll, MeshNodeConfig } from '@runtools/spec';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../../../test/support/agent-runs.js';
import { addMember } from '../../../../test/support/members.js';
import { claim, fakeDevice } from '../../../../test/support/mesh-fake-device.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';
import { RateLimiter } from '../auth/rate-limiter.js';
import { sqlitePath } from '../data-dir.js';
import { openDatabase } from '../db/database.js';
import { MeshLinks } from './links.js';
import { MeshNodes } from './nodes.js';

/**
 * RunMesh's control plane through its API, with devices played by real keys, real HTTP and a real WebSocket
 * (the helper process itself is tested in test/mesh/): the link flow and every way to abuse it, node tokens
 * and what they open, grants, revocation, the channel, and the audit log. One server for the file; a clock
 * the expiry test moves.
 */
describe('RunMesh control plane', () => {
  let server: TestServer;
  let rt: RunTools;
  let model: ModelServer;
  const clock = { offset: 0, now: () => Date.now() + clock.offset };

  beforeAll(async () => {
    model = await startModelServer();
    server = await startTestServer(
      {
        // The built-in OpenAI provider, answered by the scripted model server (a node's runs may not read secrets).
        RUNTOOLS_OPENAI_BASE_URL: model.openaiBaseUrl,
        RUNTOOLS_MESH_LINK_RATE_PER_MINUTE: '40',
        RUNTOOLS_MESH_HEARTBEAT_SECONDS: '1',
        RUNTOOLS_MESH_POLL_SECONDS: '1',
      },
      { clock },
    );
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    await rt.secrets.set('OPENAI_API_KEY', 'sk-org-only', { category: 'provider' });
  });
  afterAll(async () => {
    await server?.close();
    await model?.close();
  });

  const json = async <T>(response: Response, status: number): Promise<T> => {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return JSON.parse(text) as T;
  };

  it('links a device: its code is approved, its poll takes its node, token and config once, and it is listed', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('laptop');
    expect(link.code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    expect(new Date(link.expiresAt).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    expect((await json<MeshLinkPoll>(await device.poll(link), 200)).status).toBe('pending');

    const info = await rt.mesh.links.get(link.code.toLowerCase().replace('-', ''));
    expect(info).toMatchObject({
      name: 'laptop',
      platform: 'linux-x64',
      publicKey: device.publicKey,
      status: 'pending',
    });
    expect(info.requestedFrom).toBe('127.0.0.1');

    const node = await rt.mesh.links.approve(link.code);
    expect(node).toMatchObject({ name: 'laptop', status: 'active', online: false, publicKey: device.publicKey });
    expect(node.address).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);

    const claimed = await claim(device, link);
    expect(claimed.node).toEqual({ id: node.id, name: 'laptop', address: node.address });
    expect(claimed.nodeToken).toMatch(/^rtn_/);
    expect(claimed.config.interface).toMatchObject({ address: `${node.address}/10`, publicKey: device.publicKey });
    expect(JSON.stringify(claimed.config)).not.toMatch(/private/i);
    // Once: a second poll does not hand the token out again.
    expect((await failure(await device.poll(link))).code).toBe('mesh_link_claimed');

    const listed = (await rt.mesh.nodes.list()).map((each) => each.id);
    expect(listed).toContain(node.id);
    expect((await rt.mesh.nodes.get('laptop')).id).toBe(node.id);
    const audit = await rt.mesh.audit();
    const actions = audit.filter((entry) => entry.linkId === link.linkId).map((entry) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['link.created', 'link.approved']));
    const approved = audit.find((entry) => entry.action === 'link.approved' && entry.linkId === link.linkId);
    expect(approved?.actor.kind).toBe('key');
    expect(approved?.from).toBe('127.0.0.1');
  });

  it('tells a denied device so, and a denied or approved code cannot be decided again', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('denied-box');
    const denied = await rt.mesh.links.deny(link.code);
    expect(denied.status).toBe('denied');
    const polled = await json<MeshLinkPoll>(await device.poll(link), 200);
    expect(polled).toMatchObject({ status: 'denied' });
    expect(polled.nodeToken).toBeUndefined();
    expect((await failureOf(rt.mesh.links.approve(link.code))).code).toBe('mesh_link_decided');

    const again = fakeDevice(server.url);
    const reused = await again.link('reused');
    await rt.mesh.links.approve(reused.code);
    const second = await failureOf(rt.mesh.links.approve(reused.code));
    expect(second).toMatchObject({ code: 'mesh_link_decided', status: 409 });
    expect((await rt.mesh.audit({ action: 'link.denied' })).some((entry) => entry.linkId === link.linkId)).toBe(true);
  });

  it('expires a code after ten minutes: the device is told, and the code can no longer be approved', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('slow-box');
    clock.offset += 10 * 60_000 + 1000;
    try {
      expect((await json<MeshLinkPoll>(await device.poll(link), 200)).status).toBe('expired');
      const refused = await failureOf(rt.mesh.links.approve(link.code));
      expect(refused).toMatchObject({ code: 'mesh_link_expired', status: 410 });
    } finally {
      clock.offset -= 10 * 60_000 + 1000;
    }
  });

  it("refuses to approve a device with the WireGuard key of an active node (it would take that node's place at every peer)", async () => {
    const victim = fakeDevice(server.url);
    const victimLink = await victim.link('keyed-victim');
    const node = await rt.mesh.links.approve(victimLink.code);
    // Another device asks with the victim's public key (every member sees it in the node list).
    const { identityKey } = fakeDevice(server.url);
    const copied = await json<{ code: string }>(
      await server.request('POST', '/v1/mesh/links', {
        key: null,
        body: { name: 'keyed-copy', publicKey: victim.publicKey, identityKey, platform: 'linux-x64' },
      }),
      201,
    );
    const refused = await failureOf(rt.mesh.links.approve(copied.code));
    expect(refused).toMatchObject({ code: 'mesh_key_in_use', status: 409 });
    expect((await rt.mesh.links.get(copied.code)).status).toBe('pending');
    // Once the node is revoked its key is free again: the same device links anew with the keys it kept.
    await rt.mesh.nodes.revoke(node.id);
    const again = await victim.link('keyed-victim');
    expect((await rt.mesh.links.approve(again.code)).publicKey).toBe(victim.publicKey);
  });

  it('answers a poll only to its own poll token', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('poller');
    expect((await failure(await device.poll(link, null))).code).toBe('unauthenticated');
    const other = await fakeDevice(server.url).link('other');
    expect((await failure(await device.poll(link, other.pollToken))).code).toBe('mesh_link_not_found');
    expect((await failure(await device.poll(link, 'rtp_guess'))).code).toBe('unauthenticated');
  });

  it('refuses malformed link requests and codes with 400 and the field', async () => {
    const { publicKey, identityKey } = fakeDevice(server.url);
    const post = (body: unknown) => server.request('POST', '/v1/mesh/links', { key: null, body });
    const good = { name: 'ok', publicKey, identityKey, platform: 'linux-x64' };
    for (const body of [
      { ...good, publicKey: 'not-a-key' },
      { ...good, publicKey: Buffer.alloc(31).toString('base64') },
      { ...good, identityKey: publicKey },
      { ...good, name: '../etc' },
      { ...good, name: 'x'.repeat(64) },
      { ...good, platform: 'Linux X64' },
      { ...good, extra: true },
    ]) {
      const refused = await failure(await post(body));
      expect(refused.code, JSON.stringify(body)).toBe('validation_failed');
    }
    for (const code of ['0000-0000', 'ABCD', 'ABCD-12345', '%00']) {
      const response = await server.request('POST', '/v1/mesh/links/approve', { body: { code } });
      expect((await failure(response)).code).toBe('validation_failed');
    }
  });

  it('lets a node token read its own config and start runs, and nothing else', async () => {
    const first = fakeDevice(server.url);
    const firstLink = await first.link('token-a');
    await rt.mesh.links.approve(firstLink.code);
    const a = await claim(first, firstLink);
    const second = fakeDevice(server.url);
    const secondLink = await second.link('token-b');
    await rt.mesh.links.approve(secondLink.code);
    const b = await claim(second, secondLink);

    const own = await json<MeshNodeConfig>(
      await server.request('GET', `/v1/mesh/nodes/${a.node.id}/config`, { key: a.nodeToken }),
      200,
    );
    expect(own.peers.map((peer) => peer.nodeId)).toContain(b.node.id);
    expect(own.peers.find((peer) => peer.nodeId === b.node.id)).toMatchObject({
      publicKey: second.publicKey,
      allowedIps: [`${b.node.address}/32`],
    });
    // Another node's config, and every route that does not take node tokens, are refused.
    expect(
      (await failure(await server.request('GET', `/v1/mesh/nodes/${b.node.id}/config`, { key: a.nodeToken }))).code,
    ).toBe('mesh_node_not_found');
    for (const [method, path] of [
      ['GET', '/v1/mesh/nodes'],
      ['GET', '/v1/sandboxes'],
      ['GET', '/v1/secrets'],
      ['POST', `/v1/mesh/nodes/${b.node.id}/revoke`],
    ] as const) {
      const refused = await failure(await server.request(method, path, { key: a.nodeToken }));
      expect(refused.code, `${method} ${path}`).toBe('invalid_api_key');
    }
    // A run needs an agent; an unknown one is the node's 404, not a refusal of the token.
    const run = await server.request('POST', '/v1/run', { key: a.nodeToken, body: { agent: 'nope', prompt: 'hi' } });
    expect((await failure(run)).code).toBe('agent_not_found');
    const audit = await rt.mesh.audit({ action: 'node.config_fetched', nodeId: a.node.id });
    expect(audit[0]?.actor).toEqual({ kind: 'node', id: a.node.id });
  });

  it("lets a node token read the runs its device started, and not its owner's other runs", async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('run-reader');
    await rt.mesh.links.approve(link.code);
    const { nodeToken } = await claim(device, link);
    const channel = await device.connect(nodeToken);
    await channel.next('welcome');
    await rt.agents.create({ slug: 'on-run-reader', model: 'gpt-5', mode: 'local', device: 'run-reader' });
    model.script([{ text: 'the owner’s answer' }]);
    const owners = await rt.agent.run('on-run-reader', 'the owner’s prompt');
    expect(owners.status).toBe('completed');

    model.script([{ text: 'the device’s answer' }]);
    const started = await json<{ runId: string }>(
      await server.request('POST', '/v1/run', { key: nodeToken, body: { agent: 'on-run-reader', prompt: 'mine' } }),
      201,
    );
    expect(
      (await json<{ id: string }>(await server.request('GET', `/v1/runs/${started.runId}`, { key: nodeToken }), 200))
        .id,
    ).toBe(started.runId);
    const own = await server.request('GET', `/v1/runs/${started.runId}/events?follow=false`, { key: nodeToken });
    expect(own.status).toBe(200);
    await own.text();
    for (const path of [`/v1/runs/${owners.id}`, `/v1/runs/${owners.id}/events?follow=false`]) {
      const refused = await failure(await server.request('GET', path, { key: nodeToken }));
      expect(refused.code, path).toBe('run_not_found');
    }
    channel.socket.close();
    await channel.closed;
  });

  it('authenticates the channel by token and identity key, pushes peers as they join, and revokes fail-closed', async () => {
    const first = fakeDevice(server.url);
    const firstLink = await first.link('chan-a');
    await rt.mesh.links.approve(firstLink.code);
    const a = await claim(first, firstLink);

    // The right token with the wrong identity key is refused, and so is a made-up token.
    const impostor = await first.connect(a.nodeToken, { signWith: generateKeyPairSync('ed25519').privateKey });
    expect((await impostor.closed).code).toBe(4401);
    await expect(first.connect(`rtn_${'A'.repeat(43)}`)).rejects.toMatchObject({ status: 401 });

    const channel = await first.connect(a.nodeToken, { listenPort: 41000 });
    const welcome = await channel.next('welcome');
    expect(welcome.node.id).toBe(a.node.id);
    expect(welcome.heartbeatSeconds).toBe(1);
    channel.socket.send(JSON.stringify({ type: 'heartbeat' }));
    await until(async () => (await rt.mesh.nodes.get(a.node.id)).online);
    expect((await rt.mesh.nodes.get(a.node.id)).endpoint).toBe('127.0.0.1:41000');
    // Garbage on the channel is ignored, not fatal.
    channel.socket.send('{"type":"result","id":');
    channel.socket.send(JSON.stringify({ type: 'nonsense' }));

    const second = fakeDevice(server.url);
    const secondLink = await second.link('chan-b');
    await rt.mesh.links.approve(secondLink.code);
    const b = await claim(second, secondLink);
    const pushed = await channel.next('config');
    expect(pushed.config.peers.map((peer) => peer.nodeId)).toContain(b.node.id);
    const other = await second.connect(b.nodeToken, { listenPort: 42000 });
    await other.next('welcome');
    const moved = await channel.next('config');
    expect(moved.config.peers.find((peer) => peer.nodeId === b.node.id)?.endpoint).toBe('127.0.0.1:42000');

    const revoked = await rt.mesh.nodes.revoke('chan-b');
    expect(revoked).toMatchObject({ status: 'revoked', online: false });
    expect((await other.next('revoked')).type).toBe('revoked');
    expect((await other.closed).code).toBe(4403);
    const dropped = await channel.next('config');
    expect(dropped.config.peers.map((peer) => peer.nodeId)).not.toContain(b.node.id);
    const refused = await failure(
      await server.request('GET', `/v1/mesh/nodes/${b.node.id}/config`, { key: b.nodeToken }),
    );
    expect(refused.code).toBe('invalid_node_token');
    // At the channel, a revoked token is told it was revoked (409 node_revoked), so its helper forgets the node.
    await expect(second.connect(b.nodeToken)).rejects.toMatchObject({ status: 409 });
    // Revoked names are free again; the revoked node keeps its id and address in the list.
    expect((await rt.mesh.nodes.list({ status: 'revoked' })).map((node) => node.id)).toContain(b.node.id);
    const audit = await rt.mesh.audit({ nodeId: b.node.id });
    expect(audit.map((entry) => entry.action)).toEqual(expect.arrayContaining(['node.connected', 'node.revoked']));
    channel.socket.close();
    await channel.closed;
  });

  it('keeps one channel per node however many connect at once, and a revocation closes them all', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('many-at-once');
    await rt.mesh.links.approve(link.code);
    const { nodeToken, node } = await claim(device, link);
    const channels = await Promise.all(Array.from({ length: 8 }, () => device.connect(nodeToken)));
    // Each connection ends welcomed, or replaced (4409) by a newer one: one stays open.
    const open = () => channels.filter((channel) => channel.socket.readyState === 1);
    await until(async () => open().length <= 1).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(open().length).toBe(1);
    await rt.mesh.nodes.revoke(node.id);
    const ends = await Promise.race([
      Promise.all(channels.map((channel) => channel.closed)),
      new Promise((resolve) => setTimeout(() => resolve('still open'), 5000)),
    ]);
    expect(ends).not.toBe('still open');
  });

  it('closes a channel it has heard nothing from (not even a pong) for three heartbeats', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('gone-quiet');
    await rt.mesh.links.approve(link.code);
    const { nodeToken, node } = await claim(device, link);
    const channel = await device.connect(nodeToken);
    await channel.next('welcome');
    // A device gone without a close (its network dropped): nothing it sends or answers reaches the server.
    const raw = (channel.socket as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    await until(async () => (await rt.mesh.audit({ nodeId: node.id, action: 'node.disconnected' })).length > 0, 8000);
    raw.destroy();
  });

  it("revokes a removed member's nodes: their channels close, their peers drop them, their tokens stop", async () => {
    const leaving = await addMember(server, 'mesh-leaving@example.com', 'member');
    const leavingRt = new RunTools({ apiKey: leaving.apiKey.key, baseUrl: server.url });
    const device = fakeDevice(server.url);
    const link = await device.link('leavers-laptop');
    const node = await leavingRt.mesh.links.approve(link.code);
    const { nodeToken } = await claim(device, link);
    const channel = await device.connect(nodeToken);
    await channel.next('welcome');
    const stays = fakeDevice(server.url);
    const staysLink = await stays.link('stays-box');
    await rt.mesh.links.approve(staysLink.code);
    const staying = await claim(stays, staysLink);
    expect(staying.config.peers.map((peer) => peer.nodeId)).toContain(node.id);

    const removed = await server.request('DELETE', `/v1/members/${leaving.member.id}`);
    expect(removed.status, await removed.text()).toBe(200);
    const closed = await Promise.race([
      channel.closed,
      new Promise((resolve) => setTimeout(() => resolve('still open'), 5000)),
    ]);
    expect(closed).toMatchObject({ code: 4403 });
    expect((await rt.mesh.nodes.get(node.id)).status).toBe('revoked');
    const config = await json<MeshNodeConfig>(
      await server.request('GET', `/v1/mesh/nodes/${staying.node.id}/config`, { key: staying.nodeToken }),
      200,
    );
    expect(config.peers.map((peer) => peer.nodeId)).not.toContain(node.id);
    expect(
      (await failure(await server.request('GET', `/v1/mesh/nodes/${node.id}/config`, { key: nodeToken }))).code,
    ).toBe('invalid_node_token');
  });

  it('lets owners and admins manage any node, a member only their own, and no org see another', async () => {
    const member = await addMember(server, 'mesh-member@example.com', 'member');
    const memberRt = new RunTools({ apiKey: member.apiKey.key, baseUrl: server.url });
    const device = fakeDevice(server.url);
    const link = await device.link('owned-by-admin');
    const node = await rt.mesh.links.approve(link.code);
    expect((await failureOf(memberRt.mesh.nodes.revoke(node.id))).code).toBe('role_forbidden');
    expect((await failureOf(memberRt.mesh.nodes.allow(node.id, 'mesh-member@example.com'))).code).toBe(
      'role_forbidden',
    );
    const allowed = await rt.mesh.nodes.allow(node.id, 'mesh-member@example.com');
    expect(allowed.allowedMembers.map((each) => each.email)).toEqual(['mesh-member@example.com']);
    const removed = await rt.mesh.nodes.disallow(node.id, member.member.id);
    expect(removed.allowedMembers).toEqual([]);
    expect((await failureOf(rt.mesh.nodes.allow(node.id, 'nobody@example.com'))).code).toBe('member_not_found');

    const mine = fakeDevice(server.url);
    const mineLink = await mine.link('members-own');
    const own = await memberRt.mesh.links.approve(mineLink.code);
    expect(own.owner.email).toBe('mesh-member@example.com');
    expect((await memberRt.mesh.nodes.revoke(own.id)).status).toBe('revoked');

    const org = await json<{ apiKey: { key: string } }>(
      await server.request('POST', '/v1/orgs', { body: { name: 'Elsewhere' } }),
      201,
    );
    const stranger = new RunTools({ apiKey: org.apiKey.key, baseUrl: server.url });
    expect((await failureOf(stranger.mesh.nodes.get(node.id))).code).toBe('mesh_node_not_found');
    expect((await failureOf(stranger.mesh.nodes.config(node.id))).code).toBe('mesh_node_not_found');
    expect((await failureOf(stranger.mesh.nodes.revoke(node.id))).code).toBe('mesh_node_not_found');
    expect(await stranger.mesh.nodes.list()).toEqual([]);
    expect(await stranger.mesh.audit()).toEqual([]);
    // A code another org approved is not this org's to see.
    expect((await failureOf(stranger.mesh.links.get(link.code))).code).toBe('mesh_link_not_found');
    // Keys without mesh scopes are refused.
    const readOnly = await json<{ key: string }>(
      await server.request('POST', '/v1/auth/keys', { body: { name: 'ro', scopes: ['mesh:read'] } }),
      201,
    );
    const reader = new RunTools({ apiKey: readOnly.key, baseUrl: server.url });
    expect((await reader.mesh.nodes.get(node.id)).id).toBe(node.id);
    expect((await failureOf(reader.mesh.nodes.revoke(node.id))).code).toBe('insufficient_scope');
    const other = await fakeDevice(server.url).link('nope');
    expect((await failureOf(reader.mesh.links.approve(other.code))).code).toBe('insufficient_scope');
  });

  it('counts link requests from one IPv6 /64 together: a host given the /64 cannot walk its addresses', async () => {
    const db = await openDatabase(server.databaseUrl ?? sqlitePath(server.dataDir));
    try {
      const links = new MeshLinks(db.kysely, new MeshNodes(db.kysely, { heartbeatSeconds: 1 }), {
        linkRate: new RateLimiter(3),
        pollRate: new RateLimiter(60),
        missRate: new RateLimiter(3),
        pollIntervalSeconds: 1,
        logger: pino({ level: 'silent' }),
        clock: { now: () => Date.now() },
      });
      const { publicKey, identityKey } = fakeDevice(server.url);
      const request = { name: 'v6-host', publicKey, identityKey, platform: 'linux-x64' };
      const create = (from: string) =>
        links.create(request, from).then(
          () => 'created',
          (error: { code?: string }) => error.code,
        );
      const outcomes: (string | undefined)[] = [];
      for (const from of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::4'])
        outcomes.push(await create(from));
      expect(outcomes).toEqual(['created', 'created', 'created', 'rate_limited']);
      // Another /64, and an IPv4 address, have budgets of their own.
      expect(await create('2001:db8:1:3::1')).toBe('created');
      expect(await create('192.0.2.7')).toBe('created');
    } finally {
      await db.close();
    }
  });

  // Last: it spends this address's budget for link requests.
  it('rate-limits guessing codes per org and asking for links per address, with Retry-After', async () => {
    const org = await json<{ apiKey: { key: string } }>(
      await server.request('POST', '/v1/orgs', { body: { name: 'Guessers' } }),
      201,
    );
    const guesser = new RunTools({ apiKey: org.apiKey.key, baseUrl: server.url });
    const codes: string[] = [];
    let limited: Awaited<ReturnType<typeof failureOf>> | undefined;
    for (let attempt = 0; attempt < 60 && !limited; attempt++) {
      const code = `ZZZZ-${String(2222 + attempt).replace(/[01]/g, '2')}`;
      codes.push(code);
      const refused = await failureOf(guesser.mesh.links.approve(code));
      if (refused.code === 'rate_limited') limited = refused;
      else expect(refused.code).toBe('mesh_link_not_found');
    }
    expect(limited, 'guessing was never limited').toBeDefined();
    expect(codes.length).toBeLessThanOrEqual(41);
    // Another org's budget is its own: the admin's org may still look codes up.
    const device = fakeDevice(server.url);
    const link = await device.link('still-fine');
    expect((await rt.mesh.links.get(link.code)).name).toBe('still-fine');

    let response: Response | undefined;
    for (let attempt = 0; attempt < 60; attempt++) {
      response = await server.request('POST', '/v1/mesh/links', {
        key: null,
        body: { name: 'flood', publicKey: device.publicKey, identityKey: device.identityKey, platform: 'linux-x64' },
      });
      if (response.status === 429) break;
      expect(response.status).toBe(201);
    }
    expect(response?.status).toBe(429);
    expect(Number(response?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await failure(response as Response)).code).toBe('rate_limited');
  });
});

async function failure(response: Response): Promise<{ code: string; message: string }> {
  const text = await response.text();
  expect(response.status, text).toBeGreaterThanOrEqual(400);
  expect(response.status, text).toBeLessThan(500);
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the condition did not hold in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
