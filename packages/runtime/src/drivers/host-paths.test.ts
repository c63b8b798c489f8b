import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../../test/support/driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir, testVictimDir } from '../../../../test/support/rootfs.js';
import { ChannelError } from '../channel.js';
import { availableDrivers } from '../doctor.js';
import type { DriverName, SandboxDriver } from '../driver.js';
import type { GvisorDriver } from './gvisor/gvisor-driver.js';

/**
 * A hostile sandbox against the host's operations on what it can write: the directory bound at /.runtools/run
 * (its daemon's socket), its root filesystem, and the files the host keeps beside them. Every attack here
 * plants a symlink or swaps a file from inside, then makes the host act; the host must never follow it.
 */
const stateDir = join(testRuntimeDir, `host-paths-${process.pid}`);
const { drivers, missing } = availableDrivers(stateDir);
const limits = { vcpus: 1, memoryBytes: 512 * 1024 * 1024, maxProcesses: 512 };
const hostDir = testVictimDir('host-paths');

afterAll(async () => {
  rmSync(hostDir, { recursive: true, force: true });
  await removeDriverState(stateDir, drivers);
}, 120_000);

describe.each(['gvisor', 'container'] as DriverName[])('%s: the host follows nothing a sandbox plants', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  const internals = () =>
    driver as unknown as {
      socketDir(id: string): string;
      controlDir(id: string): string;
      sandboxDir(id: string): string;
      tools: { daemon: string };
    };

  async function sandbox(options: { snapshot?: string; internet?: boolean } = {}): Promise<string> {
    const id = `h-${name.slice(0, 3)}-${randomBytes(4).toString('hex')}`;
    await driver.create({ id, layers: [await testBaseRootfs()], hostname: 'hostile', env: {}, limits, ...options });
    return id;
  }

  async function sh(id: string, script: string, on: SandboxDriver = driver) {
    const result = await on.exec(id, { command: ['/bin/sh', '-c', script] });
    return { exitCode: result.exitCode, out: result.stdout.toString() + result.stderr.toString() };
  }

  /** A host file with known content, and a host path that must stay absent. */
  function victims(tag: string) {
    mkdirSync(hostDir, { recursive: true });
    const canary = join(hostDir, `${name}-${tag}-canary`);
    writeFileSync(canary, 'host data\n');
    return { canary, absent: join(hostDir, `${name}-${tag}-created`) };
  }

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    await testBaseRootfs();
  }, 15 * 60_000);

  afterAll(() => tracked?.destroyAll(), 120_000);

  it("never serves a sandbox's requests through another sandbox's socket planted in its place", async () => {
    const [attacker, victim] = [await sandbox(), await sandbox()];
    const victimSocket = join(internals().socketDir(victim), 'daemon.sock');
    // The victim's host path is what an attacker reads from /proc/self/mountinfo and a dev URL.
    const planted = await sh(
      attacker,
      `rm -f /.runtools/run/daemon.sock && ln -s ${victimSocket} /.runtools/run/daemon.sock`,
    );
    expect(planted.exitCode).toBe(0);
    // A control plane that connects afresh (restarted, or after the connection dropped).
    const restarted = availableDrivers(stateDir).drivers[name] as SandboxDriver;
    const error = await restarted.exec(attacker, { command: ['touch', '/root/hijacked'] }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ChannelError);
    expect((error as ChannelError).code).toBe('channel_unavailable');
    expect((await sh(victim, 'ls /root; echo end')).out).toBe('end\n');
  });

  it("keeps the host's notes and wake-ups out of the sandbox's reach: its control directory is read-only", async () => {
    const id = await sandbox();
    const attempt = await sh(
      id,
      'echo forged > /.runtools/ctl/token; echo forged > /.runtools/ctl/resume; ln -s / /.runtools/ctl/x; cat /.runtools/ctl/token',
    );
    expect(attempt.out).toMatch(/Read-only file system/);
    expect(attempt.out).not.toMatch(/forged/);
    // Its daemon still answers the host, with the host's token.
    expect((await sh(id, 'echo alive')).out).toBe('alive\n');
  });

  it('lets a sandbox neither empty nor change what it has read-only: the daemon binary, its token, a read-only mount', async () => {
    const { canary } = victims('readonly');
    const daemonBinary = internals().tools.daemon;
    const before = createHash('sha256').update(readFileSync(daemonBinary)).digest('hex');
    const id = `h-${name.slice(0, 3)}-${randomBytes(4).toString('hex')}`;
    await driver.create({
      id,
      layers: [await testBaseRootfs()],
      hostname: 'hostile',
      env: {},
      limits,
      mounts: [{ hostPath: hostDir, path: '/mnt/ro', readOnly: true }],
    });
    const token = readFileSync(join(internals().controlDir(id), 'token'), 'utf8');
    const targets = ['/.runtools/bin/runtools-daemon', '/.runtools/ctl/token', `/mnt/ro/${basename(canary)}`];
    // An open with O_TRUNC (the shell's `>`), truncate(1), and a write over the start (dd, without O_TRUNC).
    const attempt = await sh(
      id,
      targets
        .map((path) => `(: > ${path}); truncate -s 0 ${path}; printf x | dd of=${path} conv=notrunc 2>&1`)
        .join('; '),
    );
    // Each of the nine opens is refused (crun's daemon binary is busy as its running executable first).
    expect(attempt.out.match(/Read-only file system|Text file busy/g)?.length).toBe(targets.length * 3);
    expect(createHash('sha256').update(readFileSync(daemonBinary)).digest('hex')).toBe(before);
    expect(readFileSync(join(internals().controlDir(id), 'token'), 'utf8')).toBe(token);
    expect(readFileSync(canary, 'utf8')).toBe('host data\n');
    // Its daemon still answers a control plane that connects afresh (reading the token), and a new sandbox
    // still starts from the daemon binary.
    const restarted = availableDrivers(stateDir).drivers[name] as SandboxDriver;
    expect((await sh(id, 'echo alive', restarted)).out).toBe('alive\n');
    expect((await sh(await sandbox(), 'echo started')).out).toBe('started\n');
  });

  it('follows no symlink planted under any marker name through pause, resume and snapshot', async () => {
    const id = await sandbox();
    const { canary, absent } = victims('markers');
    const names = ['quiesced', 'resume', 'quiesce-asked', 'token', 'resume.new', 'token.new'];
    const plant = names
      .map((marker, index) => `ln -sf ${index % 2 ? absent : canary} /.runtools/run/${marker}`)
      .join(' && ');
    expect((await sh(id, plant)).exitCode).toBe(0);
    await driver.pause(id);
    await driver.resume(id);
    expect(await driver.snapshot(id, join(stateDir, `${id}-snapshot`))).toEqual({ memory: name === 'gvisor' });
    if (name === 'gvisor') {
      const gvisor = driver as GvisorDriver;
      // The daemon's own quiesce removed what stood at its marker's name: plant it again.
      await sh(id, plant);
      await gvisor.pauseToDisk(id);
      await gvisor.resumeFromDisk(id);
    }
    expect(readFileSync(canary, 'utf8')).toBe('host data\n');
    expect(existsSync(absent)).toBe(false);
    expect((await sh(id, 'echo alive')).out).toBe('alive\n');
  });

  it("writes a sandbox's resolvers where a symlink in its layer cannot lead the write", async () => {
    const source = await sandbox();
    const { canary } = victims('resolv');
    // The sandbox's /etc becomes a symlink to the path of a host directory holding a file named resolv.conf
    // (the same path exists inside the sandbox, so that it still starts).
    const dir = join(hostDir, `${name}-etc`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'resolv.conf'), readFileSync(canary));
    expect(
      (await sh(source, `mkdir -p ${dir} && cp -a /etc/. ${dir} && rm -rf /etc && ln -s ${dir} /etc`)).exitCode,
    ).toBe(0);
    await (driver as unknown as { shutdown(id: string): Promise<void> }).shutdown(source);
    const snapshot = join(stateDir, `${source}-layer`);
    expect(await driver.snapshot(source, snapshot)).toEqual({ memory: false });
    // A sandbox started from that layer with internet egress gets the host's resolvers in its /etc/resolv.conf.
    const copy = await sandbox({ snapshot, internet: true });
    expect(readFileSync(join(dir, 'resolv.conf'), 'utf8')).toBe('host data\n');
    expect((await sh(copy, 'cat /etc/resolv.conf')).out).toMatch(/^(nameserver |# no resolver)/);
  });

  it("shows no path of the host's state directory or template layers in its mount table", async () => {
    const id = await sandbox();
    const table = (await sh(id, 'cat /proc/self/mountinfo /proc/mounts')).out;
    expect(table).toMatch(/ \/\.runtools\/run /);
    // The layers live under the test runtime dir (rootfs cache) and the sandbox's under the driver's state dir.
    expect(table).not.toContain(testRuntimeDir);
    expect(table).not.toContain(stateDir);
    if (name === 'gvisor') expect(table).not.toContain('/run/runtools');
  });
});

describe('container: the host kernel behind a seccomp filter', () => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let id: string;

  beforeAll(async () => {
    const found = drivers.container;
    if (!found) throw new Error(`the container driver is not available here: ${missing.container}`);
    tracked = trackDriver(found);
    driver = tracked.driver;
    id = `h-sec-${randomBytes(4).toString('hex')}`;
    await driver.create({ id, layers: [await testBaseRootfs()], hostname: 'hostile', env: {}, limits });
  }, 15 * 60_000);

  afterAll(() => tracked?.destroyAll(), 120_000);

  const sh = async (script: string) => {
    const result = await driver.exec(id, { command: ['/bin/sh', '-c', script] });
    return result.stdout.toString() + result.stderr.toString();
  };

  it('runs under a seccomp filter, without raw sockets', async () => {
    const status = await sh('grep -E "^(Seccomp|CapEff):" /proc/self/status');
    expect(status).toMatch(/Seccomp:\s+2/);
    const effective = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)?.[1]}`);
    const CAP_NET_RAW = 13n;
    expect((effective >> CAP_NET_RAW) & 1n).toBe(0n);
  });

  it('cannot make a user namespace, nor join or make any other', async () => {
    expect(await sh('unshare -Ur true 2>&1; echo "exit $?"')).toMatch(/Operation not permitted[\s\S]*exit 1/);
    expect(await sh('unshare -n true 2>&1; echo "exit $?"')).toMatch(/Operation not permitted[\s\S]*exit 1/);
    // clone(CLONE_NEWUSER) through perl's syscall(2) (56 is clone on x86_64): refused with EPERM.
    expect(
      await sh(
        `perl -e 'my $r = syscall(56, 0x10000000 | 17, 0, 0, 0, 0); print $r < 0 ? "refused $!" : "made"; exit 0 if $r == 0'`,
      ),
    ).toMatch(/^refused Operation not permitted/);
  });

  it('still runs ordinary work: processes, threads, files', async () => {
    expect(await sh('echo a > /tmp/x && cat /tmp/x && (sleep 0.1 & wait) && ls / | head -1')).toBe('a\nbin\n');
  });
});
