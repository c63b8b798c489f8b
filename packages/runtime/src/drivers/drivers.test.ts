import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../../test/support/driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir } from '../../../../test/support/rootfs.js';
import { runCommand } from '../command.js';
import { availableDrivers } from '../doctor.js';
import type { DriverName, SandboxDriver } from '../driver.js';

const stateDir = join(testRuntimeDir, `state-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);
const limits = { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 };

function hostAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

afterAll(() => removeDriverState(stateDir, drivers), 120_000);

describe.each(['gvisor', 'container'] as DriverName[])('%s driver', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let baseRootfs: string;
  let listener: Server;
  let listenerPort = 0;

  async function sandbox(env: Record<string, string> = {}) {
    const id = `t-${name}-${randomBytes(4).toString('hex')}`;
    await driver.create({ id, layers: [baseRootfs], hostname: 'test', env, limits });
    return id;
  }

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    baseRootfs = await testBaseRootfs();
    listener = createServer((socket) => socket.end('host says hi\n'));
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    listenerPort = (listener.address() as { port: number }).port;
  }, 15 * 60_000);

  afterAll(async () => {
    listener?.close();
    await tracked?.destroyAll();
  }, 120_000);

  it('runs a command and returns its stdout, stderr and exit code', async () => {
    const id = await sandbox();
    const result = await driver.exec(id, { command: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'] });
    expect([result.exitCode, result.stdout.toString(), result.stderr.toString()]).toEqual([3, 'out\n', 'err\n']);
    const os = await driver.exec(id, { command: ['cat', '/etc/debian_version'] });
    expect(os.stdout.toString()).toMatch(/^12\./);
  });

  it('passes environment, working directory and stdin', async () => {
    const id = await sandbox({ FROM_CREATE: 'yes' });
    const result = await driver.exec(id, {
      command: ['/bin/sh', '-c', 'echo "$FROM_CREATE $FROM_EXEC"; pwd; cat'],
      env: { FROM_EXEC: 'also' },
      cwd: '/etc',
      stdin: 'piped in',
    });
    expect(result.stdout.toString()).toBe('yes also\n/etc\npiped in');
  });

  it('writes to its own layer: the base is untouched and another sandbox does not see the file', async () => {
    const first = await sandbox();
    const second = await sandbox();
    const written = await driver.exec(first, {
      command: ['/bin/sh', '-c', 'echo mine > /root/note && cat /root/note'],
    });
    expect(written.stdout.toString()).toBe('mine\n');
    expect(readFileSync(join(driver.rootfsPath(first), 'root/note'), 'utf8')).toBe('mine\n');
    expect(existsSync(join(baseRootfs, 'root/note'))).toBe(false);
    const other = await driver.exec(second, { command: ['cat', '/root/note'] });
    expect(other.exitCode).not.toBe(0);
  });

  it("cannot see the host's files", async () => {
    const marker = `/tmp/runtools-host-marker-${randomBytes(4).toString('hex')}`;
    writeFileSync(marker, 'host secret');
    try {
      const id = await sandbox();
      // Paths that are on the host (checked here, so that each probe could find something) and not in the base
      // rootfs: a host file, the checkout, the driver's state directory and the sandbox's own directory in it.
      const hostPaths = [marker, dirname(testRuntimeDir), stateDir, join(stateDir, name, id)];
      for (const path of hostPaths) expect([path, existsSync(path)]).toEqual([path, true]);
      // The probe prints each path it finds; /etc/debian_version, the sandbox's own, shows that it finds files.
      const found = await driver.exec(id, {
        command: [
          '/bin/sh',
          '-c',
          'for path in "$@"; do test -e "$path" && echo "$path"; done; echo end',
          'probe',
          ...hostPaths,
          '/etc/debian_version',
        ],
      });
      expect(found.stdout.toString()).toBe('/etc/debian_version\nend\n');
      const hostname = await driver.exec(id, { command: ['hostname'] });
      expect(hostname.stdout.toString()).toBe('test\n');
    } finally {
      rmSync(marker, { force: true });
    }
  });

  it('reaches neither the host nor the network: only its own loopback', async () => {
    const id = await sandbox();
    const targets = ['127.0.0.1', hostAddress()].filter((address): address is string => Boolean(address));
    const probe = (address: string) => ['/bin/bash', '-c', `exec 3<>/dev/tcp/${address}/${listenerPort} && cat <&3`];
    for (const address of targets) {
      // From the host the same probe reaches the listener: it can tell reachable from not.
      const [program, ...args] = probe(address);
      const fromHost = await runCommand(program as string, args, { timeoutMs: 20_000 });
      expect([address, fromHost.stdout.toString()]).toEqual([address, 'host says hi\n']);
      const result = await driver.exec(id, { command: probe(address), timeoutMs: 20_000 });
      expect([address, result.exitCode === 0, result.stdout.toString()]).toEqual([address, false, '']);
    }
  });

  it('is gone after destroy, and destroying twice is harmless', async () => {
    const id = await sandbox();
    await driver.destroy(id);
    expect(existsSync(join(stateDir, name, id))).toBe(false);
    await driver.destroy(id);
    const result = await driver.exec(id, { command: ['/bin/true'] }).catch((error: Error) => error);
    expect(result instanceof Error || result.exitCode !== 0).toBe(true);
  });
});

describe.each(['gvisor', 'container'] as DriverName[])('%s driver limits', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let baseRootfs: string;

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    baseRootfs = await testBaseRootfs();
  }, 15 * 60_000);
  afterAll(() => tracked?.destroyAll(), 120_000);

  async function sandbox(limitsOverride: Partial<typeof limits>) {
    const id = `l-${name}-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id,
      layers: [baseRootfs],
      hostname: 'limits',
      env: {},
      limits: { ...limits, ...limitsOverride },
    });
    return id;
  }

  it('stops a fork bomb at its process limit, and the sandbox recovers when the bomb is over', async () => {
    const id = await sandbox({ maxProcesses: 64 });
    const neighbour = await sandbox({});
    const bomb = await driver.exec(id, {
      command: ['/bin/bash', '-c', 'for i in $(seq 300); do sleep 8 & done'],
      timeoutMs: 60_000,
    });
    expect(bomb.stderr.toString()).toMatch(/fork: .*(Resource temporarily unavailable|Interrupted system call)/);
    expect((await driver.exec(neighbour, { command: ['/bin/echo', 'unaffected'] })).stdout.toString()).toBe(
      'unaffected\n',
    );
    await expect
      .poll(
        async () => (await driver.exec(id, { command: ['/bin/echo', 'alive'], timeoutMs: 10_000 })).stdout.toString(),
        {
          timeout: 30_000,
          interval: 1000,
        },
      )
      .toBe('alive\n');
  }, 120_000);

  it('holds memory to its limit: the hog does not get its memory and a neighbour carries on', async () => {
    const neighbour = await sandbox({});
    const id = await sandbox({ memoryBytes: 128 * 1024 * 1024 });
    // Keep 400 MB in a shell variable: far past the 128 MB limit. Either the hog is killed, or (gVisor, whose
    // sentry is in the same cgroup) the whole sandbox goes down with it and its channel is lost.
    const hog = await driver
      .exec(id, {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a JavaScript template
        command: ['/bin/bash', '-c', 'x=$(head -c 400000000 /dev/zero | tr "\\0" a); echo ${#x}'],
        timeoutMs: 20_000,
      })
      .then(
        (result) => result.stdout.toString().trim(),
        (error: Error) => error.message,
      );
    expect(hog).toMatch(/^(\d*|the connection to the sandbox daemon was lost)$/);
    expect(hog).not.toBe('400000000');
    const after = await driver.exec(neighbour, { command: ['/bin/echo', 'alive'], timeoutMs: 30_000 });
    expect(after.stdout.toString()).toBe('alive\n');
  });
});
