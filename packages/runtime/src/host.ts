import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the repository's .tools folder is: scripts/install-runtime.sh unpacks runsc there. */
const repoTools = resolve(fileURLToPath(new URL('../../../.tools', import.meta.url)));

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin']) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface HostTools {
  crun: string | undefined;
  runsc: string | undefined;
  debootstrap: string | undefined;
  unshare: string | undefined;
  mount: string | undefined;
  /** The in-sandbox daemon, built by scripts/build-daemon.sh. */
  daemon: string | undefined;
  ip: string | undefined;
  /** nftables, for sandboxes with internet egress. */
  nft: string | undefined;
}

const builtDaemon = resolve(fileURLToPath(new URL('../daemon/bin/runtools-daemon', import.meta.url)));

/** Finds the programs the drivers use; `RUNTOOLS_RUNSC` and `RUNTOOLS_DAEMON` override where runsc and the daemon are. */
export function hostTools(): HostTools {
  const bundledRunsc = join(repoTools, 'runsc/usr/bin/runsc');
  return {
    crun: onPath('crun'),
    runsc: process.env.RUNTOOLS_RUNSC || (existsSync(bundledRunsc) ? bundledRunsc : undefined),
    debootstrap: onPath('debootstrap'),
    unshare: onPath('unshare'),
    mount: onPath('mount'),
    daemon: process.env.RUNTOOLS_DAEMON || (existsSync(builtDaemon) ? builtDaemon : undefined),
    ip: onPath('ip'),
    nft: onPath('nft'),
  };
}

/**
 * This kernel mounts cgroup v1 with a cgroup v2 hierarchy beside it at /sys/fs/cgroup/unified ("hybrid").
 * crun refuses to work then, and runsc trips over it too: both run in a private mount namespace in which
 * that mount is gone. Returns the argv prefix that does that.
 */
export function privateCgroupNamespace(unshare: string, options: { hideProcSysNet?: boolean } = {}): string[] {
  const hideNet = options.hideProcSysNet ? 'mount -t tmpfs -o size=4k,mode=555 runtools-hide /proc/sys/net; ' : '';
  return [
    unshare,
    '--mount',
    '--propagation',
    'private',
    '/bin/sh',
    '-c',
    `mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified; ${hideNet}exec "$@"`,
    'runtools-runtime',
  ];
}
