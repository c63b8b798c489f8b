import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mustRun, runCommand } from '@runtools/runtime';

/**
 * The second octet of every mesh LAN: 10.201.<b>.0/24, b picked per LAN. Sandboxes take 10.200.0.0/16
 * (packages/runtime/src/network.ts), the stand-in internet 198.18.0.0/15 and 203.0.113.0/24, the mesh itself
 * 100.64.0.0/10: nothing else on the host uses 10.201.
 */
const lanOctet = 201;
const killGraceMs = 5_000;

export interface MeshDevice {
  /** The device's network namespace (`rtm-<tag>-<i>`). */
  netns: string;
  /** Its address on the LAN, 10.201.<b>.<10+i>. */
  address: string;
  /** Its HOME, a fresh directory ($TMPDIR/runtools-mesh-<tag>-<i>) removed by close(). */
  home: string;
  /** `<home>/root`: the directory a device owner would give `runtools mesh up --root`. */
  root: string;
}

export interface DeviceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DeviceProcess {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /**
   * The first line of stdout or stderr (already written or still to come) that matches; rejects when the
   * process exits or `timeoutMs` passes first, with what it wrote.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves once the process has exited and its output is read. */
  exited: Promise<DeviceExit>;
  /** Signals the process and everything in its process group (SIGTERM by default). */
  kill(signal?: NodeJS.Signals): void;
}

export interface MeshLan {
  /** The host's address on the LAN (10.201.<b>.1), where a control plane for the devices listens. */
  hostAddress: string;
  /** The LAN with its prefix, e.g. 10.201.37.0/24. */
  subnet: string;
  bridge: string;
  devices: MeshDevice[];
  /**
   * Starts `argv` in device `index`'s namespace with a clean environment: PATH (this Node's directory first),
   * HOME and TMPDIR in the device's home, then `env`; working directory its home; stdin /dev/null.
   */
  spawn(index: number, argv: string[], env?: Record<string, string>): DeviceProcess;
  /** Runs `argv` in the namespace as spawn does, to completion; throws when it outlasts `timeoutMs`. */
  exec(
    index: number,
    argv: string[],
    options?: { env?: Record<string, string>; timeoutMs?: number },
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /**
   * Kills every process started in the LAN's namespaces (SIGTERM, SIGKILL 5 s later), deletes the namespaces,
   * veths and bridge and the devices' homes, then throws when any of them is left.
   */
  close(): Promise<void>;
}

/**
 * A LAN of `devices` network namespaces for RunMesh device tests: a bridge on the host (`rtmb<tag>`,
 * 10.201.<b>.1/24) with one veth per device (host side `rtmv<tag><i>` on the bridge, `eth0` with
 * 10.201.<b>.<10+i>/24 in namespace `rtm-<tag>-<i>`). Devices reach the host and each other over the bridge
 * and nothing else: no default route, no NAT, no change to forwarding. A control plane for them must listen
 * on `hostAddress` (or 0.0.0.0), since the devices' 127.0.0.1 is their own loopback.
 *
 * @example
 * const lan = await createMeshLan({ devices: 2 });
 * try {
 *   const device = lan.spawn(0, [process.execPath, cli, 'mesh', 'up', '--server', `http://${lan.hostAddress}:${port}`]);
 *   const [, code] = await device.waitForLine(/code: (\S+)/, 10_000);
 * } finally {
 *   await lan.close();
 * }
 */
export async function createMeshLan(options: { devices: number }): Promise<MeshLan> {
  const count = options.devices;
  if (!Number.isInteger(count) || count < 1 || count > 240) throw new Error(`a mesh LAN has 1 to 240 devices`);
  let tag = randomBytes(2).toString('hex');
  let bridge = `rtmb${tag}`;
  const netnsOf = (index: number) => `rtm-${tag}-${index}`;
  const vethOf = (index: number) => `rtmv${tag}${index}`;
  const homeOf = (index: number) => join(tmpdir(), `runtools-mesh-${tag}-${index}`);
  const made = { namespaces: [] as string[], veths: [] as string[], homes: [] as string[], bridge: false };
  const processes = new Set<DeviceProcess>();
  let lanNet = '';
  let closing: Promise<void> | undefined;
  const devices: MeshDevice[] = [];

  const close = () => {
    closing ??= (async () => {
      await stopAll([...processes]);
      // What the devices' processes started on their own (wireguard-go daemonizes) and left behind: a process
      // keeps its namespace, and the veth and WireGuard interface in it, alive after `ip netns delete`.
      await stopPids(await namespacePids(made.namespaces));
      // Past the namespace's deletion nothing names them any more: count them now.
      const survivors = (await namespacePids(made.namespaces)).map((pid) => `process ${pid}`);
      for (const netns of made.namespaces) await runCommand('ip', ['netns', 'delete', netns]);
      for (const veth of made.veths) await runCommand('ip', ['link', 'delete', veth]);
      if (made.bridge) await runCommand('ip', ['link', 'delete', bridge]);
      for (const home of made.homes) rmSync(home, { recursive: true, force: true });
      const left = [...survivors, ...(await leftovers(tag, made.homes))];
      if (left.length) throw new Error(`the mesh LAN ${tag} left ${left.join(', ')}`);
    })();
    return closing;
  };

  try {
    // Another LAN's tag, once in 65536: take another.
    for (let attempt = 0; !made.bridge; attempt++) {
      const result = await runCommand('ip', ['link', 'add', bridge, 'type', 'bridge']);
      if (result.exitCode === 0) made.bridge = true;
      else if (attempt === 8 || !/exists/i.test(result.stderr.toString('utf8'))) {
        throw new Error(`ip link add ${bridge} type bridge: ${result.stderr.toString('utf8').trim()}`);
      } else {
        tag = randomBytes(2).toString('hex');
        bridge = `rtmb${tag}`;
      }
    }
    await mustRun('ip', ['link', 'set', bridge, 'up']);
    lanNet = await claimSubnet(bridge);
    for (let index = 0; index < count; index++) {
      const netns = netnsOf(index);
      const veth = vethOf(index);
      const home = homeOf(index);
      const address = `${lanNet}.${10 + index}`;
      mkdirSync(home, { mode: 0o700 });
      made.homes.push(home);
      mkdirSync(join(home, 'root'));
      mkdirSync(join(home, 'tmp'));
      await mustRun('ip', ['netns', 'add', netns]);
      made.namespaces.push(netns);
      await mustRun('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      made.veths.push(veth);
      await mustRun('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      await mustRun('ip', ['-n', netns, '-batch', '-'], {
        stdin: [`addr add ${address}/24 dev eth0`, 'link set eth0 up', 'link set lo up'].join('\n'),
      });
      devices.push({ netns, address, home, root: join(home, 'root') });
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  const spawnIn = (index: number, argv: string[], env: Record<string, string> = {}): DeviceProcess => {
    const device = devices[index];
    if (!device) throw new Error(`no device ${index} on this LAN (it has ${devices.length})`);
    if (closing) throw new Error('the mesh LAN is closed');
    const environment = {
      PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: device.home,
      TMPDIR: join(device.home, 'tmp'),
      ...env,
    };
    const handle = startProcess(
      [
        'ip',
        'netns',
        'exec',
        device.netns,
        'env',
        '-i',
        ...Object.entries(environment).map(([name, value]) => `${name}=${value}`),
      ],
      argv,
      device.home,
    );
    processes.add(handle);
    return handle;
  };

  return {
    hostAddress: `${lanNet}.1`,
    subnet: `${lanNet}.0/24`,
    bridge,
    devices,
    spawn: spawnIn,
    async exec(index, argv, options = {}) {
      const handle = spawnIn(index, argv, options.env);
      const timeoutMs = options.timeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          handle.kill('SIGKILL');
          reject(new Error(`${argv.join(' ')} on device ${index} ran past ${timeoutMs} ms: ${handle.stderr}`));
        }, timeoutMs);
      });
      try {
        const { code, signal } = await Promise.race([handle.exited, timedOut]);
        return { exitCode: code ?? 128 + signalNumber(signal), stdout: handle.stdout, stderr: handle.stderr };
      } finally {
        clearTimeout(timer);
      }
    },
    close,
  };
}

/**
 * Gives the bridge an address in a 10.201.<b>.0/24 that no other interface on the host has an address or a
 * route in. Another LAN created at the same moment may pick the same b: each adds its address before looking,
 * so the later of two looks sees the other, and that LAN takes the address off and tries another b.
 */
async function claimSubnet(bridge: string): Promise<string> {
  for (let attempt = 0; attempt < 32; attempt++) {
    const lanNet = `10.${lanOctet}.${randomInt(256)}`;
    if (await inUse(lanNet, bridge)) continue;
    await mustRun('ip', ['addr', 'add', `${lanNet}.1/24`, 'dev', bridge]);
    if (!(await inUse(lanNet, bridge))) return lanNet;
    await mustRun('ip', ['addr', 'del', `${lanNet}.1/24`, 'dev', bridge]);
  }
  throw new Error(`no free 10.${lanOctet}.x.0/24 for a mesh LAN after 32 tries`);
}

/** Whether an interface other than `bridge` has an address, or a route to a network, inside lanNet.0/24. */
async function inUse(lanNet: string, bridge: string): Promise<boolean> {
  const addresses = (await mustRun('ip', ['-4', '-o', 'addr', 'show'])).stdout.toString('utf8');
  for (const line of addresses.split('\n')) {
    const [, , device, , address] = line.split(/\s+/);
    if (device !== bridge && address?.startsWith(`${lanNet}.`)) return true;
  }
  const routes = (await mustRun('ip', ['-4', '-o', 'route', 'show', 'table', 'all'])).stdout.toString('utf8');
  for (const line of routes.split('\n')) {
    const words = line.split(/\s+/);
    const device = words[words.indexOf('dev') + 1];
    const destination = words[0] === 'local' || words[0] === 'broadcast' ? words[1] : words[0];
    if (device !== bridge && destination?.startsWith(`${lanNet}.`)) return true;
  }
  return false;
}

/** The pids in any of the namespaces (`ip netns pids`). */
async function namespacePids(namespaces: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const netns of namespaces) {
    const result = await runCommand('ip', ['netns', 'pids', netns]);
    for (const word of result.stdout.toString('utf8').split(/\s+/)) if (/^\d+$/.test(word)) pids.push(Number(word));
  }
  return pids;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

async function stopPids(pids: number[]): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + killGraceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  signal('SIGKILL');
  while (pids.some(alive) && Date.now() < deadline + killGraceMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopAll(processes: DeviceProcess[]): Promise<void> {
  const running = processes.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  for (const handle of running) handle.kill('SIGTERM');
  const exitedAll = Promise.all(running.map((handle) => handle.exited));
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    exitedAll.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), killGraceMs);
    }),
  ]);
  clearTimeout(timer);
  if (late) {
    for (const handle of running) handle.kill('SIGKILL');
    await exitedAll;
  }
}

/** The LAN's namespaces, links and homes still on the host. */
async function leftovers(tag: string, homes: string[]): Promise<string[]> {
  const left: string[] = [];
  // A deleted namespace's veth ends go with it shortly after, not always before `ip netns delete` returns.
  const deadline = Date.now() + 3_000;
  for (;;) {
    left.length = 0;
    const namespaces = (await mustRun('ip', ['netns', 'list'])).stdout.toString('utf8');
    for (const line of namespaces.split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name.startsWith(`rtm-${tag}-`)) left.push(`network namespace ${name}`);
    }
    const links = (await mustRun('ip', ['-o', 'link', 'show'])).stdout.toString('utf8');
    for (const line of links.split('\n')) {
      const name = (line.split(': ')[1] ?? '').split('@')[0] ?? '';
      if (name === `rtmb${tag}` || name.startsWith(`rtmv${tag}`)) left.push(`link ${name}`);
    }
    for (const home of homes) if (existsSync(home)) left.push(`directory ${home}`);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const signalNumber = (signal: NodeJS.Signals | null) => (signal ? constants.signals[signal] : 0);

function startProcess(prefix: string[], argv: string[], cwd: string): DeviceProcess {
  const [program, ...args] = [...prefix, ...argv] as [string, ...string[]];
  // Its own process group (`ip netns exec` and `env` exec, so the group leader is the command itself): kill()
  // reaches what it started too.
  const child = spawn(program, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  const partial = { stdout: '', stderr: '' };
  const waiters = new Set<{ pattern: RegExp; resolve: (match: RegExpExecArray) => void }>();
  const addLine = (line: string) => {
    lines.push(line);
    for (const waiter of waiters) {
      const match = waiter.pattern.exec(line);
      if (match) {
        waiters.delete(waiter);
        waiter.resolve(match);
      }
    }
  };
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (stream === 'stdout') stdout += text;
    else stderr += text;
    const pieces = (partial[stream] + text).split('\n');
    partial[stream] = pieces.pop() ?? '';
    for (const line of pieces) addLine(line);
  };
  child.stdout?.on('data', take('stdout'));
  child.stderr?.on('data', take('stderr'));

  let ended = false;
  const endListeners = new Set<() => void>();
  const exited = new Promise<DeviceExit>((resolve) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) addLine(partial[stream]);
      ended = true;
      for (const listener of endListeners) listener();
      resolve({ code, signal });
    };
    child.once('error', (error) => {
      stderr += `${error.message}\n`;
      finish(null, null);
    });
    child.once('close', finish);
    // A background process that kept the pipes (a daemonized wireguard-go) must not hold up the exit.
    child.once('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, 100).unref();
    });
  });

  const handle: DeviceProcess = {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForLine(pattern, timeoutMs = 10_000) {
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match) return Promise.resolve(match);
      }
      return new Promise((resolve, reject) => {
        const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
        const stop = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          endListeners.delete(onEnd);
        };
        const waiter = {
          pattern,
          resolve: (match: RegExpExecArray) => {
            stop();
            resolve(match);
          },
        };
        const onEnd = () => {
          stop();
          reject(new Error(`${argv.join(' ')} exited without a line matching ${pattern}\n${output()}`));
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms from ${argv.join(' ')}\n${output()}`));
        }, timeoutMs);
        if (ended) return onEnd();
        waiters.add(waiter);
        endListeners.add(onEnd);
      });
    },
    kill(signal = 'SIGTERM') {
      // Only while the leader is unreaped: after that its pid, and so the group id, may belong to another.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    },
  };
  return handle;
}
