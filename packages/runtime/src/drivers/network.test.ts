import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../../test/support/driver-sandboxes.js';
import { type StandInInternet, startStandInInternet } from '../../../../test/support/internet.js';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { runCommand } from '../command.js';
import { availableDrivers } from '../doctor.js';
import type { DriverName, SandboxDriver } from '../driver.js';

const stateDir = join(testRuntimeDir, `network-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);
const limits = { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 };

let inet: StandInInternet;

function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  throw new Error('no host address');
}

/** bash's /dev/tcp, so the minimal template needs no curl: prints the reply, or `closed`. */
function fetchCommand(address: string, port: number): string[] {
  return [
    '/bin/bash',
    '-c',
    `timeout 5 bash -c 'exec 3<>/dev/tcp/${address}/${port} && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3' 2>/dev/null | tail -1 || true; echo; echo done`,
  ];
}

let hostListener: Server;
let hostPort = 0;

beforeAll(async () => {
  inet = await startStandInInternet();
  hostListener = createServer((socket) => socket.end('host secret\n'));
  await new Promise<void>((resolve) => hostListener.listen(0, '0.0.0.0', resolve));
  hostPort = (hostListener.address() as { port: number }).port;
}, 60_000);

// After the blocks' own afterAll (which destroy their sandboxes): whatever beforeAll got as far as making.
afterAll(async () => {
  hostListener?.close();
  await inet?.close();
  await removeDriverState(stateDir, drivers);
});

describe.each(['gvisor', 'container'] as DriverName[])('%s sandbox network', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let baseRootfs: string;

  function networkOf(id: string): { address: string; gateway: string; hostInterface: string; netns: string } {
    return JSON.parse(readFileSync(join(driver.rootfsPath(id), '..', 'network.json'), 'utf8'));
  }

  async function sandbox(internet: boolean) {
    const id = `n-${name}-${randomBytes(4).toString('hex')}`;
    await driver.create({ id, layers: [baseRootfs], hostname: 'net', env: {}, limits, internet });
    return id;
  }

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    baseRootfs = await testBaseRootfs();
  }, 15 * 60_000);

  afterAll(() => tracked?.destroyAll(), 120_000);

  it('reaches the internet only when asked to, and never the host or another sandbox', async () => {
    const online = await sandbox(true);
    const offline = await sandbox(false);
    const neighbour = await sandbox(true);

    const fetched = await driver.exec(online, { command: fetchCommand(inet.server, 8080) });
    expect(fetched.stdout.toString()).toBe('hello from the internet\ndone\n');
    const refused = await driver.exec(offline, { command: fetchCommand(inet.server, 8080) });
    expect(refused.stdout.toString()).toBe('\ndone\n');

    // The host: its own address, the sandbox's gateway (the host end of its veth), loopback.
    for (const target of [hostAddress(), networkOf(online).gateway, '127.0.0.1']) {
      const attempt = await driver.exec(online, { command: fetchCommand(target, hostPort) });
      expect(attempt.stdout.toString(), target).toBe('\ndone\n');
    }

    // Another sandbox with internet, listening on every address, is out of reach too.
    await driver.channel(neighbour).spawn({
      argv: [
        'perl',
        '-MIO::Socket::INET',
        '-e',
        '$s=IO::Socket::INET->new(LocalAddr=>"0.0.0.0:7000",Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){print $c "neighbour"; close $c}',
      ],
    });
    // The listener first answers its own sandbox (perl under gVisor can take seconds to start on a loaded host).
    await expect
      .poll(
        async () => (await driver.exec(neighbour, { command: fetchCommand('127.0.0.1', 7000) })).stdout.toString(),
        { timeout: 30_000, interval: 250 },
      )
      .toBe('neighbour\ndone\n');
    const across = await driver.exec(online, { command: fetchCommand(networkOf(neighbour).address, 7000) });
    expect(across.stdout.toString()).toBe('\ndone\n');
  }, 120_000);

  it.runIf(name === 'gvisor')('reaches the internet after a pause to disk and resume, and from a branch', async () => {
    const online = await sandbox(true);
    await driver.pauseToDisk?.(online);
    expect(driver.pausedToDisk?.(online)).toBe(true);
    await driver.resumeFromDisk?.(online);
    const fetched = await driver.exec(online, { command: fetchCommand(inet.server, 8080) });
    expect(fetched.stdout.toString()).toBe('hello from the internet\ndone\n');
    const host = await driver.exec(online, { command: fetchCommand(hostAddress(), hostPort) });
    expect(host.stdout.toString()).toBe('\ndone\n');

    // A branch from a memory snapshot gets a network (and address) of its own. Its id is not the first's with
    // a suffix: runsc takes an id as a prefix, and then finds `n-…` ambiguous and cannot destroy that one.
    const snapshot = join(stateDir, `${online}-snapshot`);
    expect(await driver.snapshot(online, snapshot)).toEqual({ memory: true });
    const branch = `n-${name}-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id: branch,
      layers: [baseRootfs],
      hostname: 'net',
      env: {},
      limits,
      internet: true,
      snapshot,
    });
    expect(networkOf(branch).address).not.toBe(networkOf(online).address);
    const fromBranch = await driver.exec(branch, { command: fetchCommand(inet.server, 8080) });
    expect(fromBranch.stdout.toString()).toBe('hello from the internet\ndone\n');
  });

  it('frees its address and interfaces on destroy', async () => {
    const id = await sandbox(true);
    const network = networkOf(id);
    expect((await runCommand('ip', ['link', 'show', network.hostInterface])).exitCode).toBe(0);
    await driver.destroy(id);
    expect((await runCommand('ip', ['link', 'show', network.hostInterface])).exitCode).not.toBe(0);
    expect((await runCommand('ip', ['netns', 'list'])).stdout.toString()).not.toContain(`${network.netns} `);
  });
});
