import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RunTools } from '@runtools/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMockProvider } from '../../../../test/support/agent-runs.js';
import { claim, fakeDevice } from '../../../../test/support/mesh-fake-device.js';
import { type ModelServer, startModelServer } from '../../../../test/support/model-server.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';
import { RateLimiter } from '../auth/rate-limiter.js';
import { sqlitePath } from '../data-dir.js';
import { type Db, openDatabase } from '../db/database.js';
import { MeshChannels } from './channels.js';
import { MeshLinks } from './links.js';
import { MeshNodes } from './nodes.js';

/**
 * Several control planes on one database: a device connected to one plane gets the operations of runs another
 * plane executes (relayed through the database), and a revocation made on one plane closes the device's channel
 * on the other. Plane A is a whole server (it executes the runs); plane B is only the mesh channels, over its own
 * connection to the same database, with an HTTP server of its own for the device's WebSocket.
 */
describe('RunMesh across control planes', () => {
  let server: TestServer;
  let rt: RunTools;
  let model: ModelServer;
  let planeDb: Db;
  let plane: MeshChannels;
  let planeHttp: Server;
  let planeUrl = '';

  beforeAll(async () => {
    model = await startModelServer();
    server = await startTestServer({ RUNTOOLS_MESH_HEARTBEAT_SECONDS: '1' });
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    await addMockProvider(rt, model);
    planeDb = await openDatabase(server.databaseUrl ?? sqlitePath(server.dataDir));
    const logger = pino({ level: 'silent' });
    const nodes = new MeshNodes(planeDb.kysely, { heartbeatSeconds: 1 });
    const links = new MeshLinks(planeDb.kysely, nodes, {
      linkRate: new RateLimiter(10),
      pollRate: new RateLimiter(60),
      missRate: new RateLimiter(10),
      pollIntervalSeconds: 1,
      logger,
      clock: { now: () => Date.now() },
    });
    plane = new MeshChannels(planeDb.kysely, nodes, links, { heartbeatSeconds: 1, sweepMs: 1000 }, logger);
    planeHttp = createServer((_request, response) => response.writeHead(404).end());
    planeHttp.on('upgrade', (request, socket, head) => void plane.upgrade(request, socket, head));
    await new Promise<void>((resolve) => planeHttp.listen(0, '127.0.0.1', resolve));
    planeUrl = `http://127.0.0.1:${(planeHttp.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    plane?.close();
    await new Promise((resolve) => planeHttp?.close(resolve));
    await planeDb?.close();
    await server?.close();
    await model?.close();
  });

  it('closes the old channel of a device that connected to another plane, and its closing leaves the device online', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('mover');
    await rt.mesh.links.approve(link.code);
    const { nodeToken, node } = await claim(device, link);
    const old = await fakeDevice(planeUrl).connect(nodeToken, { signWith: device.identity });
    await old.next('welcome');
    // Its network changed: it connects again, through the other plane, before the first noticed anything.
    const moved = await device.connect(nodeToken);
    await moved.next('welcome');
    const closed = await Promise.race([old.closed, new Promise((resolve) => setTimeout(() => resolve('open'), 5000))]);
    if (closed === 'open') old.socket.close();
    await old.closed;
    moved.socket.send(JSON.stringify({ type: 'heartbeat' }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await rt.mesh.nodes.get(node.id)).online).toBe(true);
    expect(closed).toMatchObject({ code: 4409 });
    moved.socket.close();
    await moved.closed;
  });

  it('fails a relayed call whose answer cannot be relayed (nested past any stack) instead of losing it', async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('deep-device');
    await rt.mesh.links.approve(link.code);
    const { nodeToken } = await claim(device, link);
    const far = await fakeDevice(planeUrl).connect(nodeToken, { signWith: device.identity });
    await far.next('welcome');
    far.socket.send(JSON.stringify({ type: 'heartbeat' }));
    // A result JSON reads, and JSON.stringify cannot write again (its recursion runs out of stack).
    const depth = 100_000;
    far.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; id?: string };
      if (message.type === 'call')
        far.socket.send(
          `{"type":"result","id":${JSON.stringify(message.id)},"ok":true,"value":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        );
    });
    await rt.agents.create({ slug: 'deep', model: 'mock/m1', mode: 'local', device: 'deep-device' });
    model.script([{ toolCalls: [{ id: 'b', name: 'bash', input: { command: 'echo hi', timeoutMs: 60_000 } }] }]);
    const started = Date.now();
    const run = await rt.agent.run('deep', 'go');
    expect(run.status).toBe('failed');
    expect(JSON.stringify(run.error)).toContain('node_offline');
    expect(Date.now() - started).toBeLessThan(20_000);
    far.socket.close();
    await far.closed;
  });

  it("runs a local agent's tools on a device connected to another control plane, and revokes it there", async () => {
    const device = fakeDevice(server.url);
    const link = await device.link('far-device');
    await rt.mesh.links.approve(link.code);
    const { nodeToken, node } = await claim(device, link);
    const seen: unknown[] = [];
    // The device's channel (its own identity key) goes to plane B, never to the server that runs the agent.
    const far = await fakeDevice(planeUrl).connect(nodeToken, {
      signWith: device.identity,
      answer: (operation) => {
        seen.push(operation);
        if (operation.op === 'exec') return { exitCode: 0, stdout: `ran ${operation.command}\n`, stderr: '' };
        throw { code: 'outside_root', message: `${(operation as { path?: string }).path} is outside the root` };
      },
    });
    await far.next('welcome');
    far.socket.send(JSON.stringify({ type: 'heartbeat' }));
    await rt.agents.create({ slug: 'far', model: 'mock/m1', mode: 'local', device: 'far-device' });
    model.script([
      {
        toolCalls: [
          { id: 'b', name: 'bash', input: { command: 'echo hi' } },
          { id: 'r', name: 'read_file', input: { path: '/etc/passwd' } },
        ],
      },
      { text: 'done far away' },
    ]);
    const run = await rt.agent.run('far', 'go');
    expect(run).toMatchObject({ status: 'completed', text: 'done far away' });
    expect(seen).toContainEqual(expect.objectContaining({ op: 'exec' }));
    const events = await rt.agent.events(run.id);
    const results = events.flatMap((event) => (event.type === 'tool-result' ? [event] : []));
    expect(results.find((event) => event.toolCallId === 'b')).toMatchObject({ isError: false });
    expect(JSON.stringify(results.find((event) => event.toolCallId === 'b')?.output)).toContain('ran');
    expect(results.find((event) => event.toolCallId === 'r')).toMatchObject({ isError: true });
    const dispatched = await rt.mesh.audit({ nodeId: node.id, action: 'node.dispatched' });
    expect(dispatched[0]?.details).toMatchObject({ relayed: true });

    // Revoked through the server, the channel on plane B closes within its sweep.
    await rt.mesh.nodes.revoke(node.id);
    const closed = await Promise.race([far.closed, new Promise((resolve) => setTimeout(() => resolve('open'), 5000))]);
    expect(closed).toMatchObject({ code: 4403 });
  });
});
