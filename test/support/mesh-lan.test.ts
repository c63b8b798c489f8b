import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { mustRun, runCommand } from '@runtools/runtime';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createMeshLan, type MeshLan } from './mesh-lan.js';

/**
 * The LAN the RunMesh device tests run on. A plain `.test.ts` (the unit project) so it runs once: it uses no
 * database, and an `.int.test.ts` runs once per database.
 */

const node = process.execPath;
const leakScript = new URL('../../scripts/test-leaks.mjs', import.meta.url).pathname;

/** A node one-liner that prints `connected` or the connect error's code (ECONNREFUSED, ENETUNREACH, …). */
function probe(address: string, port: number): string[] {
  return [
    node,
    '-e',
    `const socket = require('net').connect({ host: ${JSON.stringify(address)}, port: ${port}, timeout: 3000 });
     socket.on('connect', () => { console.log('connected'); socket.destroy(); });
     socket.on('error', (error) => console.log(error.code));
     socket.on('timeout', () => { console.log('timeout'); socket.destroy(); });`,
  ];
}

function fetchText(url: string): string[] {
  return [node, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => console.log(t))`];
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
}

async function hostState(): Promise<{ namespaces: string; links: string }> {
  return {
    namespaces: (await runCommand('ip', ['netns', 'list'])).stdout.toString('utf8'),
    links: (await runCommand('ip', ['-o', 'link', 'show'])).stdout.toString('utf8'),
  };
}

describe('a mesh LAN', () => {
  let lan: MeshLan;
  const servers: Server[] = [];

  beforeAll(async () => {
    lan = await createMeshLan({ devices: 2 });
  });

  afterAll(async () => {
    for (const server of servers) server.close();
    await lan?.close();
  });

  it('gives each device its namespace, address, home and nothing but the LAN route', async () => {
    const [first, second] = lan.devices;
    expect(lan.hostAddress).toMatch(/^10\.201\.\d+\.1$/);
    const lanNet = lan.hostAddress.replace(/\.1$/, '');
    expect(first).toMatchObject({ netns: expect.stringMatching(/^rtm-[0-9a-f]{4}-0$/), address: `${lanNet}.10` });
    expect(second).toMatchObject({ netns: expect.stringMatching(/^rtm-[0-9a-f]{4}-1$/), address: `${lanNet}.11` });
    expect(lan.bridge).toMatch(/^rtmb[0-9a-f]{4}$/);
    for (const device of lan.devices) {
      expect(existsSync(device.root)).toBe(true);
      const routes = await lan.exec(lan.devices.indexOf(device), ['ip', '-4', 'route', 'show']);
      expect(routes.stdout.trim()).toBe(`${lan.subnet} dev eth0 proto kernel scope link src ${device.address}`);
      const environment = await lan.exec(lan.devices.indexOf(device), ['sh', '-c', 'echo "$HOME $TMPDIR"; pwd']);
      expect(environment.stdout).toBe(`${device.home} ${device.home}/tmp\n${device.home}\n`);
    }
  });

  it('lets devices reach each other and the host over the bridge', async () => {
    const host = createServer((_request, response) => response.end('from the host'));
    servers.push(host);
    const hostPort = await listen(host, lan.hostAddress);
    const [first, second] = lan.devices as [MeshLan['devices'][number], MeshLan['devices'][number]];
    const server = lan.spawn(1, [
      node,
      '-e',
      `require('http').createServer((q, r) => r.end('from device 1'))
         .listen(8080, ${JSON.stringify(second.address)}, () => console.log('listening'))`,
    ]);
    await server.waitForLine(/^listening$/, 10_000);

    const toPeer = await lan.exec(0, fetchText(`http://${second.address}:8080/`));
    expect(toPeer).toMatchObject({ exitCode: 0, stdout: 'from device 1\n' });
    for (const index of [0, 1]) {
      const toHost = await lan.exec(index, fetchText(`http://${lan.hostAddress}:${hostPort}/`));
      expect(toHost).toMatchObject({ exitCode: 0, stdout: 'from the host\n' });
    }
    // And the host reaches a device, as a test looking at what a device serves would.
    expect(await (await fetch(`http://${second.address}:8080/`)).text()).toBe('from device 1');
    const back = await lan.exec(1, probe(first.address, 9));
    expect(back.stdout).toBe('ECONNREFUSED\n');

    server.kill();
    expect(await server.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('reaches nothing beyond the LAN: not the host on its other addresses, not its loopback, not the internet', async () => {
    const host = createServer((_request, response) => response.end('from the host'));
    servers.push(host);
    const port = await listen(host, '0.0.0.0');
    expect((await lan.exec(0, probe(lan.hostAddress, port))).stdout).toBe('connected\n');
    // 127.0.0.1 in the namespace is its own loopback, where nothing listens.
    expect((await lan.exec(0, probe('127.0.0.1', port))).stdout).toBe('ECONNREFUSED\n');
    const elsewhere = Object.entries(networkInterfaces())
      .filter(([name]) => name !== lan.bridge)
      .flatMap(([, addresses]) => addresses ?? [])
      .filter((address) => address.family === 'IPv4' && !address.internal)
      .map((address) => address.address);
    for (const address of [...elsewhere, '203.0.113.1', '1.1.1.1', '10.200.0.1']) {
      expect({ address, result: (await lan.exec(0, probe(address, port))).stdout }).toEqual({
        address,
        result: 'ENETUNREACH\n',
      });
    }
  });

  it('is listed by the leak check while it is up', () => {
    const listing = execFileSync(node, [leakScript], { encoding: 'utf8' });
    for (const device of lan.devices) expect(listing).toContain(`network namespace ${device.netns}\n`);
    expect(listing).toContain(`network interface ${lan.bridge}\n`);
    expect(listing).toContain(`network interface rtmv${lan.bridge.slice(4)}0\n`);
  });
});

describe('closing a mesh LAN', () => {
  it('kills what its devices run, even what left the process group, and leaves nothing', async () => {
    const lan = await createMeshLan({ devices: 2 });
    onTestFinished(() => lan.close().catch(() => {}));
    const tag = lan.bridge.slice(4);
    // Ignores SIGTERM, so close() must come back with SIGKILL.
    const stubborn = lan.spawn(0, [
      node,
      '-e',
      "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)",
    ]);
    await stubborn.waitForLine(/^up$/);
    // A daemon in a session of its own: no process group kill reaches it.
    const daemon = await lan.exec(0, ['sh', '-c', 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!']);
    const daemonPid = Number(daemon.stdout.trim());
    // wireguard-go daemonizes: what lan.exec ran is gone, its interface and process stay in the namespace.
    expect(await lan.exec(1, ['wireguard-go', 'wg0'])).toMatchObject({ exitCode: 0 });
    expect((await lan.exec(1, ['ip', '-br', 'link', 'show', 'wg0'])).stdout).toMatch(/^wg0 /);
    const inNamespace = (await mustRun('ip', ['netns', 'pids', lan.devices[1]?.netns ?? ''])).stdout.toString();
    const wireguardPid = Number(inNamespace.trim());
    expect(readFileSync(`/proc/${wireguardPid}/cmdline`, 'utf8')).toBe('wireguard-go\0wg0\0');
    for (const pid of [daemonPid, wireguardPid]) expect(existsSync(`/proc/${pid}`)).toBe(true);

    const started = Date.now();
    await lan.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
    expect(await stubborn.exited).toEqual({ code: null, signal: 'SIGKILL' });
    for (const pid of [daemonPid, wireguardPid]) expect(existsSync(`/proc/${pid}`)).toBe(false);
    const { namespaces, links } = await hostState();
    expect(namespaces).not.toContain(`rtm-${tag}-`);
    expect(links).not.toMatch(new RegExp(`rtm[bv]${tag}`));
    for (const device of lan.devices) expect(existsSync(device.home)).toBe(false);
    expect(() => lan.spawn(0, ['true'])).toThrow('closed');
  }, 30_000);

  it('throws when something of the LAN is left', async () => {
    const lan = await createMeshLan({ devices: 1 });
    onTestFinished(() => lan.close().catch(() => {}));
    const stray = `rtmv${lan.bridge.slice(4)}9`;
    // A link named like the LAN's that close() did not make, so does not delete: its check must see it.
    await mustRun('ip', ['link', 'add', stray, 'type', 'bridge']);
    try {
      await expect(lan.close()).rejects.toThrow(`left link ${stray}`);
    } finally {
      await runCommand('ip', ['link', 'delete', stray]);
    }
  });
});
