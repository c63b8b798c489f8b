#!/usr/bin/env node
// What tests make on the host and must take down again: sandboxes (runsc and crun containers), overlay and
// loop mounts and loop devices under the places tests keep state, network namespaces, veth and bridge
// interfaces and address claims, and the sandboxes' channel directories under /run/runtools (and the mounts
// in them). scripts/test.mjs lists them before and after vitest and fails the run when any made during it
// outlived it.
// `node scripts/test-leaks.mjs` lists what is there now.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/**
 * Where tests keep sandbox state, layers and disk images: the checkout (.runtools-test/), the data dirs of
 * test servers and CLI tests (`$TMPDIR/runtools-*`) and the host paths hostile sandboxes aim at.
 */
const stateRoots = [`${checkout}/`, join(tmpdir(), 'runtools-'), '/var/tmp/runtools-'];
const underStateRoot = (path) => stateRoots.some((root) => path.startsWith(root));

const cgroupRoots = ['/sys/fs/cgroup/pids/runtools', '/sys/fs/cgroup/runtools'];
const channelRoot = '/run/runtools';
const claimDir = '/run/runtools/net';

function list(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The pids in a cgroup and every cgroup below it. */
function cgroupPids(dir) {
  const pids = (read(join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
  for (const entry of list(dir)) {
    if (existsSync(join(dir, entry, 'cgroup.procs'))) pids.push(...cgroupPids(join(dir, entry)));
  }
  return pids;
}

/** `/proc/mounts` escapes spaces, tabs, newlines and backslashes as octal. */
const unescapeMount = (text) =>
  text.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(Number.parseInt(octal, 8)));

/**
 * Everything of the kinds tests make that is on this host now, keyed so that two listings can be compared:
 * `key → what it is, in words`.
 */
export function testResources() {
  const found = new Map();

  // Sandboxes: both drivers put a sandbox's processes in the cgroup /runtools/<id>; gVisor's sandbox and
  // file proxy processes also name their state root and bundle on their command line.
  const sandboxes = new Map();
  const sandbox = (id) => {
    if (!sandboxes.has(id)) sandboxes.set(id, { pids: new Set(), roots: new Set() });
    return sandboxes.get(id);
  };
  for (const root of cgroupRoots) {
    for (const id of list(root)) {
      if (!existsSync(join(root, id, 'cgroup.procs'))) continue;
      for (const pid of cgroupPids(join(root, id))) sandbox(id).pids.add(pid);
    }
  }
  for (const pid of list('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (read(`/proc/${pid}/cmdline`) ?? '').split('\0');
    if (!/^runsc(-sandbox|-gofer)?$/.test(basename(argv[0] ?? ''))) continue;
    const flag = (name) => {
      const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
      if (index < 0) return undefined;
      return argv[index].includes('=') ? argv[index].slice(name.length + 3) : argv[index + 1];
    };
    const bundle = flag('bundle');
    const root = flag('root');
    if (!bundle) continue;
    const entry = sandbox(basename(dirname(bundle)));
    entry.pids.add(pid);
    if (root) entry.roots.add(root);
  }
  for (const [id, { pids, roots }] of sandboxes) {
    if (pids.size === 0) continue;
    const first = [...pids][0];
    const command = (read(`/proc/${first}/cmdline`) ?? '').split('\0')[0] || '?';
    const where = roots.size
      ? `, state ${[...roots].join(', ')}${[...roots].some(existsSync) ? '' : ' (removed)'}`
      : '';
    found.set(`sandbox ${id}`, `sandbox ${id} still running (pids ${[...pids].join(' ')}: ${command}${where})`);
  }

  // Overlay roots and loop-mounted disks under the places tests keep state.
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = unescapeMount(left.split(' ')[4] ?? '');
    const [type, source = ''] = right.split(' ');
    if ((type === 'overlay' || source.startsWith('/dev/loop')) && underStateRoot(mountPoint)) {
      found.set(`mount ${mountPoint}`, `${type} mount at ${mountPoint}${type === 'overlay' ? '' : ` (${source})`}`);
    }
    // A sandbox's read-only views (binds in its channel directory).
    if (mountPoint.startsWith(`${channelRoot}/`)) found.set(`mount ${mountPoint}`, `bind mount at ${mountPoint}`);
  }
  for (const device of list('/sys/block').filter((name) => name.startsWith('loop'))) {
    const backing = read(`/sys/block/${device}/loop/backing_file`)?.trim();
    if (backing && underStateRoot(backing)) found.set(`loop ${device}`, `loop device /dev/${device} on ${backing}`);
  }

  // Sandbox networks (rtns<n>, rtv<n>), the test's own stand-in internet (rtt-inet-*, rtti*) and the mesh
  // device LANs (rtm-<tag>-<i>, bridge rtmb<tag>, veths rtmv<tag><i>).
  for (const name of list('/run/netns').filter((entry) => entry.startsWith('rt'))) {
    found.set(`netns ${name}`, `network namespace ${name}`);
  }
  for (const name of list('/sys/class/net').filter((entry) => /^rt(v|t|mb|mv)/.test(entry))) {
    found.set(`link ${name}`, `network interface ${name}`);
  }
  for (const index of list(claimDir)) {
    found.set(`claim ${index}`, `sandbox address claim ${claimDir}/${index} (${read(join(claimDir, index)) ?? '?'})`);
  }

  // A sandbox's host-only channel directory, removed by its destroy.
  for (const key of list(channelRoot).filter((entry) => entry !== 'net')) {
    for (const id of list(join(channelRoot, key))) {
      found.set(`channel ${key}/${id}`, `channel directory ${join(channelRoot, key, id)}`);
    }
  }
  return found;
}

/**
 * What is there now and was not in `before`. Waits up to `graceMs` for things being taken down as the test
 * processes exit (a lazy unmount, a runtime process that has been killed) before calling them leaked.
 */
export async function leakedSince(before, graceMs = 10_000) {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const leaked = [...testResources()].filter(([key]) => !before.has(key));
    if (leaked.length === 0 || Date.now() >= deadline) return leaked.map(([, description]) => description);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const now = [...testResources().values()];
  process.stdout.write(
    now.length ? `${now.join('\n')}\n` : 'no sandbox, mount or network namespace of the tests is here\n',
  );
}
