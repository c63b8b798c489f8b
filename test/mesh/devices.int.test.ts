import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import type { RunEvent } from '@runtools/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../support/agent-runs.js';
import { cliBin, runCli } from '../support/cli.js';
import { createPostgresDatabase, testDatabaseKind } from '../support/database.js';
import { createMeshLan, type DeviceProcess, type MeshLan } from '../support/mesh-lan.js';
import { type ModelServer, startModelServer } from '../support/model-server.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * RunMesh end to end: real `runtools mesh up` helpers, each in a network namespace with its own HOME on a LAN
 * of namespaces (test/support/mesh-lan.ts), linked to a real `runtools server` process listening on the LAN's
 * host address, approved with the real CLI; userspace WireGuard (wireguard-go) between them from the configs
 * the server hands out; local agents whose tools run on a device, against a scripted model server; revocation;
 * and a control plane killed with SIGKILL.
 */
describe('RunMesh devices', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtools-mesh-e2e-'));
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let server: ServerProcess | undefined;
  let lan: MeshLan;
  let model: ModelServer;
  let url = '';
  let adminKey = '';
  let rt: RunTools;
  const helpers: DeviceProcess[] = [];

  async function start(port = 0): Promise<void> {
    server = startServerProcess(
      dataDir,
      [...(postgres ? ['--database-url', postgres.url] : []), '--host', lan.hostAddress, '--port', String(port)],
      {
        RUNTOOLS_MESH_HEARTBEAT_SECONDS: '1',
        RUNTOOLS_MESH_POLL_SECONDS: '1',
        RUNTOOLS_QUEUE_LEASE_MS: '2000',
        // The built-in OpenAI provider, with the org's key, answered by the scripted model server.
        RUNTOOLS_OPENAI_BASE_URL: model.openaiBaseUrl,
      },
    );
    url = await server.listening;
    adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    rt = new RunTools({ apiKey: adminKey, baseUrl: url });
  }

  const cli = (args: string[]) =>
    runCli(args, { configDir: join(dataDir, 'cli'), env: { RUNTOOLS_API_URL: url, RUNTOOLS_API_KEY: adminKey } });

  /** `runtools mesh up` on device `index`, waiting for its code; the caller approves or denies it. */
  /**
   * Each device's WireGuard interface has a name of its own: wireguard-go's control socket
   * (/var/run/wireguard/<name>.sock) is one per machine, whatever the namespace, and both database projects
   * run this file at once.
   */
  const iface = (index: number) => `rw${lan.bridge.slice(4)}${index}`;

  async function up(index: number, name: string, wireguard = true): Promise<{ helper: DeviceProcess; code: string }> {
    const device = lan.devices[index];
    if (!device) throw new Error(`no device ${index}`);
    const helper = lan.spawn(index, [
      process.execPath,
      cliBin,
      'mesh',
      'up',
      '--server',
      url,
      '--name',
      name,
      '--root',
      device.root,
      ...(wireguard ? ['--wireguard', '--interface', iface(index)] : []),
    ]);
    helpers.push(helper);
    const [, code] = await helper.waitForLine(/link code: (\S+)/, 30_000);
    return { helper, code: code as string };
  }

  async function link(index: number, name: string): Promise<DeviceProcess> {
    const { helper, code } = await up(index, name);
    const approved = await cli(['mesh', 'approve', code as string]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`node ${name}`);
    await helper.waitForLine(/linked as/, 15_000);
    await until(async () => (await rt.mesh.nodes.get(name)).online, `${name} online`).catch((error: Error) => {
      throw new Error(`${error.message}; its helper wrote:\n${helper.stdout}\n${helper.stderr}`);
    });
    return helper;
  }

  /** Whether device `from` reaches TCP port 7070 of `address` (its mesh address) and hears `expect`. */
  async function reaches(from: number, address: string, expected: string): Promise<boolean> {
    const script = `const s=require('net').connect({host:${JSON.stringify(address)},port:7070,timeout:800},()=>{});let d='';s.on('data',c=>d+=c);s.on('end',()=>{process.stdout.write(d);process.exit(0)});s.on('timeout',()=>process.exit(2));s.on('error',()=>process.exit(3));`;
    const result = await lan.exec(from, [process.execPath, '-e', script], { timeoutMs: 5000 }).catch(() => undefined);
    return result?.exitCode === 0 && result.stdout === expected;
  }

  /** A TCP server on device `index`'s mesh address answering its name, until the device's namespace goes. */
  function listen(index: number, address: string, answer: string): void {
    const script = `require('net').createServer(s=>s.end(${JSON.stringify(answer)})).listen(7070,${JSON.stringify(address)})`;
    helpers.push(lan.spawn(index, [process.execPath, '-e', script]));
  }

  const peersOf = async (index: number) =>
    (await lan.exec(index, ['wg', 'show', iface(index), 'peers'])).stdout.split('\n').filter(Boolean);

  beforeAll(async () => {
    if (testDatabaseKind() === 'postgres') postgres = await createPostgresDatabase();
    mkdirSync(join(dataDir, 'cli'));
    lan = await createMeshLan({ devices: 3 });
    model = await startModelServer();
    await start();
    await rt.secrets.set('OPENAI_API_KEY', 'sk-org-only', { category: 'provider' });
  }, 120_000);

  afterAll(async () => {
    try {
      for (const helper of helpers) helper.kill('SIGTERM');
      await Promise.all(helpers.map((helper) => Promise.race([helper.exited, sleep(10_000)])));
      await lan?.close();
    } finally {
      server?.child.kill('SIGKILL');
      await server?.exited;
      await model?.close();
      await postgres?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a device whose code is denied: its helper says so and exits 1', async () => {
    const { helper, code } = await up(2, 'denied-box', false);
    const denied = await cli(['mesh', 'deny', code]);
    expect(denied.code, denied.stderr).toBe(0);
    expect(await helper.exited).toMatchObject({ code: 1 });
    expect(helper.stderr).toContain('denied');
    expect((await rt.mesh.nodes.list()).map((node) => node.name)).not.toContain('denied-box');
  });

  it('links two devices with mesh up and mesh approve; their WireGuard tunnels reach each other over mesh addresses', async () => {
    await link(0, 'dev-a');
    await link(1, 'dev-b');
    const a = await rt.mesh.nodes.get('dev-a');
    const b = await rt.mesh.nodes.get('dev-b');
    expect(a.endpoint).toBe(`${lan.devices[0]?.address}:41641`);
    const status = await lan.exec(0, [process.execPath, cliBin, 'mesh', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ node: { name: 'dev-a', address: a.address } });
    // The private key never left the device: the server's config has only public keys.
    const key = readFileSync(join(lan.devices[0]?.home ?? '', '.runtools', 'mesh', 'wireguard.key'), 'utf8').trim();
    expect(JSON.stringify(await rt.mesh.nodes.config('dev-a'))).not.toContain(key);
    listen(0, a.address, 'dev-a');
    listen(1, b.address, 'dev-b');
    await until(() => reaches(0, b.address, 'dev-b'), 'dev-a reaches dev-b', 20_000);
    await until(() => reaches(1, a.address, 'dev-a'), 'dev-b reaches dev-a', 20_000);
    const nodes = await cli(['mesh', 'nodes', '--json']);
    const listed = JSON.parse(nodes.stdout) as { name: string; online: boolean }[];
    expect(
      listed
        .filter((node) => node.online)
        .map((node) => node.name)
        .sort(),
    ).toEqual(['dev-a', 'dev-b']);
  });

  it('pushes a third node joining to both devices, which add it as a WireGuard peer', async () => {
    await link(2, 'dev-c');
    const c = await rt.mesh.nodes.get('dev-c');
    await until(async () => (await peersOf(0)).includes(c.publicKey), 'dev-a has dev-c as a peer');
    await until(async () => (await peersOf(1)).includes(c.publicKey), 'dev-b has dev-c as a peer');
    listen(2, c.address, 'dev-c');
    await until(() => reaches(0, c.address, 'dev-c'), 'dev-a reaches dev-c', 20_000);
  });

  it("runs a local agent's bash and file tools in the device's root, and they cannot leave it", async () => {
    const device = lan.devices[0];
    if (!device) throw new Error('no device');
    writeFileSync(join(device.home, 'private.txt'), 'owner-only');
    await rt.agents.create({ slug: 'on-dev-a', model: 'gpt-5', mode: 'local-mac', device: 'dev-a' });
    model.script([
      {
        toolCalls: [
          {
            id: 'bash1',
            name: 'bash',
            input: {
              command: `pwd; echo made > inside.txt; echo x > ${device.home}/escaped.txt; cat ${device.home}/private.txt; echo done`,
            },
          },
          { id: 'read1', name: 'read_file', input: { path: '../private.txt' } },
          { id: 'write1', name: 'write_file', input: { path: '/etc/runtools-owned', content: 'x' } },
        ],
      },
      { toolCalls: [{ id: 'read2', name: 'read_file', input: { path: 'inside.txt' } }] },
      { text: 'finished' },
    ]);
    const events: RunEvent[] = [];
    for await (const event of rt.agent.run('on-dev-a', 'look around', { stream: true })) events.push(event);
    const results = Object.fromEntries(
      events.flatMap((event) => (event.type === 'tool-result' ? [[event.toolCallId, event]] : [])),
    );
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed', text: 'finished' });
    expect(events[0]).toMatchObject({ type: 'start', sandboxId: null, device: { name: 'dev-a' } });
    const bash = results.bash1?.output as { stdout: string; exitCode: number };
    expect(bash.stdout).toContain(device.root);
    expect(bash.stdout).toContain('done');
    expect(bash.stdout).not.toContain('owner-only');
    expect(readFileSync(join(device.root, 'inside.txt'), 'utf8')).toBe('made\n');
    expect(existsSync(join(device.home, 'escaped.txt'))).toBe(false);
    expect(results.read1).toMatchObject({ isError: true });
    expect(String(results.read1?.output)).toMatch(/outside/);
    expect(results.write1).toMatchObject({ isError: true });
    expect(existsSync('/etc/runtools-owned')).toBe(false);
    expect(results.read2).toMatchObject({ isError: false });
    expect(JSON.stringify(results.read2?.output)).toContain('made');
    // The model's messages went through the control plane only: the device saw tool calls, never a provider key.
    expect((await rt.mesh.audit({ action: 'node.dispatched' })).length).toBeGreaterThan(0);
  });

  it("refuses another member's run on the device until its owner allows them, and starts a device's own run with its token", async () => {
    const invited = await inviteMember();
    const memberRt = new RunTools({ apiKey: invited.apiKey.key, baseUrl: url });
    const refused = await failureOf(memberRt.agent.run('on-dev-a', 'hi'));
    expect(refused).toMatchObject({ code: 'node_not_allowed', status: 403 });
    const allowed = await cli(['mesh', 'allow', 'dev-a', 'mesh-dev@example.com']);
    expect(allowed.code, allowed.stderr).toBe(0);
    model.script([{ text: 'member ran' }]);
    const run = await memberRt.agent.run('on-dev-a', 'hi');
    expect(run.text).toBe('member ran');

    // A device starts its own run with its node token: the run and thread live on the platform. Its token
    // runs agents on that device only, although its owner owns dev-a too.
    const token = readFileSync(join(lan.devices[1]?.home ?? '', '.runtools', 'mesh', 'node-token'), 'utf8').trim();
    const runAs = (agent: string) =>
      fetch(`${url}/v1/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent, prompt: 'hello from dev-b' }),
      });
    const elsewhere = await runAs('on-dev-a');
    expect(elsewhere.status).toBe(403);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('node_not_allowed');
    await rt.agents.create({ slug: 'on-dev-b', model: 'gpt-5', mode: 'local', device: 'dev-b' });
    model.script([{ text: 'from the device' }]);
    const response = await runAs('on-dev-b');
    expect(response.status, await response.clone().text()).toBe(201);
    const started = (await response.json()) as { runId: string; threadId: string; rolloutId: string };
    const done = await until(async () => {
      const got = await rt.agent.get(started.runId);
      return got.status !== 'queued' && got.status !== 'running' ? got : undefined;
    }, 'the device run ends');
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'completed' });
    expect(done.text).toBe('from the device');
    expect(done.threadId).toBe(started.threadId);
    expect((await rt.threads.get(started.threadId)).id).toBe(started.threadId);

    async function inviteMember() {
      const invitedResponse = await fetch(`${url}/v1/invitations`, {
        method: 'POST',
        headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'mesh-dev@example.com', role: 'member' }),
      });
      const { token: invitation } = (await invitedResponse.json()) as { token: string };
      const joined = await fetch(`${url}/v1/invitations/sign-up`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: invitation }),
      });
      return (await joined.json()) as { apiKey: { key: string } };
    }
  });

  it('fails a run on an offline device at once with node_offline', async () => {
    const down = await lan.exec(2, [process.execPath, cliBin, 'mesh', 'down']);
    expect(down.exitCode, down.stderr).toBe(0);
    await until(async () => !(await rt.mesh.nodes.get('dev-c')).online, 'dev-c offline');
    await rt.agents.create({ slug: 'on-dev-c', model: 'gpt-5', mode: 'local', device: 'dev-c' });
    const refused = await failureOf(rt.agent.run('on-dev-c', 'hi'));
    expect(refused).toMatchObject({ code: 'node_offline', status: 409 });
  });

  it('reconnects every device after a kill -9 of the control plane, and loses nothing', async () => {
    const before = (await rt.mesh.audit()).length;
    // A local run is in the middle of a tool call on dev-a when the control plane dies.
    model.script([
      { toolCalls: [{ id: 'cut', name: 'bash', input: { command: 'sleep 3; cat inside.txt' } }] },
      { toolCalls: [{ id: 'again', name: 'bash', input: { command: 'cat inside.txt' } }] },
      { text: 'survived' },
    ]);
    const inFlight = (await rt.agent.start('on-dev-a', 'across the kill')).id;
    await until(
      async () => (await rt.agent.events(inFlight)).some((event) => event.type === 'tool-call'),
      'the tool call is in flight',
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message}: ${JSON.stringify(await rt.agent.get(inFlight))} ${JSON.stringify(await rt.agent.events(inFlight))}`,
      );
    });
    const port = Number(new URL(url).port);
    server?.child.kill('SIGKILL');
    await server?.exited;
    const restarted = new Date().toISOString();
    await start(port);
    // Back for real: each helper connected again (a fresh node.connected), not a row still saying online.
    for (const name of ['dev-a', 'dev-b']) {
      const node = await rt.mesh.nodes.get(name);
      await until(
        async () =>
          (await rt.mesh.audit({ nodeId: node.id, action: 'node.connected' })).some((entry) => entry.at > restarted),
        `${name} reconnected`,
        30_000,
      );
      expect((await rt.mesh.nodes.get(name)).online).toBe(true);
    }
    expect((await rt.mesh.audit()).length).toBeGreaterThanOrEqual(before);
    // Kept by the node's id, whatever its name becomes.
    expect((await rt.agents.get('on-dev-a')).device).toBe((await rt.mesh.nodes.get('dev-a')).id);
    // The interrupted run goes on from its last finished step once its lease runs out, on the device that
    // came back, and completes: nothing it did or was asked is lost.
    const resumed = await until(
      async () => {
        const got = await rt.agent.get(inFlight);
        return got.status !== 'queued' && got.status !== 'running' ? got : undefined;
      },
      'the interrupted run ends',
      60_000,
    );
    expect(resumed, JSON.stringify(resumed)).toMatchObject({ status: 'completed', text: 'survived' });
    const events = await rt.agent.events(inFlight);
    expect(events.some((event) => event.type === 'resumed')).toBe(true);
    const result = events.find((event) => event.type === 'tool-result' && event.toolCallId === 'again');
    expect(JSON.stringify(result)).toContain('made');
  });

  it('revokes a device fail-closed: its work fails, its channel and tunnel go, its peers drop it, its token is dead', async () => {
    const b = await rt.mesh.nodes.get('dev-b');
    const helperB = helpers[2];
    const token = readFileSync(join(lan.devices[1]?.home ?? '', '.runtools', 'mesh', 'node-token'), 'utf8').trim();
    model.script([{ toolCalls: [{ id: 'slow', name: 'bash', input: { command: 'sleep 60' } }] }, { text: 'never' }]);
    const runId = (await rt.agent.start('on-dev-b', 'wait')).id;
    await until(
      async () => (await rt.agent.events(runId)).some((event) => event.type === 'tool-call'),
      'the slow tool call is in flight',
    );
    const revoked = await cli(['mesh', 'revoke', 'dev-b']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const failed = await until(async () => {
      const got = await rt.agent.get(runId);
      return got.status === 'failed' ? got : undefined;
    }, 'the in-flight run fails');
    expect(JSON.stringify(failed)).toContain('node_revoked');
    // Its peer drops it within 5 seconds, and the revoked helper tears down and exits 3.
    await until(async () => !(await peersOf(0)).includes(b.publicKey), 'dev-a drops dev-b', 5000);
    expect(await reaches(0, b.address, 'dev-b')).toBe(false);
    const exit = await (helperB as DeviceProcess).exited;
    expect(exit.code).toBe(3);
    expect((await lan.exec(1, ['ip', 'link', 'show', iface(1)])).exitCode).not.toBe(0);
    const config = await fetch(`${url}/v1/mesh/nodes/${b.id}/config`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(config.status).toBe(401);
    expect(((await config.json()) as { error: { code: string } }).error.code).toBe('invalid_node_token');
    const actions = (await rt.mesh.audit({ nodeId: b.id })).map((entry) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['node.revoked', 'node.connected', 'link.approved']));
  });
});
