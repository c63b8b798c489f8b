import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerSeccomp } from './seccomp.js';

export interface SandboxLimits {
  /** CPU quota in whole or fractional CPUs. */
  vcpus: number;
  memoryBytes: number;
  /** Processes the sandbox's user may run (RLIMIT_NPROC): fork fails with EAGAIN past it. */
  maxProcesses: number;
  /** Size of the sandbox's writable layer; absent: bounded only by the host's disk. */
  diskBytes?: number;
}

/**
 * Writes the OCI runtime config both drivers use. New pid, network, ipc, uts and mount namespaces: the empty
 * network namespace has only loopback, so a sandbox reaches neither the host nor other sandboxes.
 */
export function writeBundleConfig(options: {
  bundleDir: string;
  rootfs: string;
  hostname: string;
  env: Record<string, string>;
  limits: SandboxLimits;
  /** cgroup v1 path under each controller; gVisor and crun both honour it with cgroupfs. */
  cgroupsPath: string;
  /** pids.max for the sandbox's cgroup. */
  pidsLimit: number;
  /** Host directory holding the daemon binary, bound read-only at /.runtools/bin. */
  daemonDir: string;
  /** Host directory for the daemon's socket (and its quiesced marker), bound read-write at /.runtools/run. */
  socketDir: string;
  /** Host directory for what the host tells the daemon (its token, wake-ups), bound read-only at /.runtools/ctl. */
  controlDir: string;
  /** Working directory of the daemon, and so the default of every exec. */
  cwd?: string;
  /** The seccomp filter for a runtime that runs on the host's kernel (see seccomp.ts); gVisor needs none. */
  seccomp?: boolean;
  /** A host file bound read-only at /etc/resolv.conf (sandboxes with internet egress). */
  resolvConf?: string;
  /** A network namespace to join (internet egress); without it the sandbox gets an empty one. */
  netnsPath?: string;
  /** Host directories bound read-write (workspaces), parents first. */
  binds?: readonly { hostPath: string; path: string; readOnly?: boolean }[];
}): void {
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    TERM: 'xterm',
    LANG: 'C.UTF-8',
    ...options.env,
  };
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      // The daemon is the sandbox's first process: it serves exec and files on the channel socket and reaps
      // orphans. Killed with SIGKILL on destroy.
      args: [
        daemonPath,
        '--socket',
        daemonSocket,
        '--control',
        daemonControl,
        '--max-processes',
        String(options.limits.maxProcesses),
      ],
      env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      cwd: options.cwd ?? '/',
      capabilities: {
        bounding: defaultCapabilities,
        effective: defaultCapabilities,
        permitted: defaultCapabilities,
      },
      // No RLIMIT_NPROC for the daemon itself: a fork bomb that reaches the limit must not stop it from
      // making the threads it needs. It gives each command it starts the limit instead (--max-processes).
      noNewPrivileges: true,
    },
    root: { path: options.rootfs, readonly: false },
    hostname: options.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/.runtools/bin', type: 'bind', source: options.daemonDir, options: ['rbind', 'ro', 'nosuid'] },
      {
        destination: '/.runtools/run',
        type: 'bind',
        source: options.socketDir,
        options: ['rbind', 'rw', 'nosuid', 'noexec', 'nodev'],
      },
      {
        destination: '/.runtools/ctl',
        type: 'bind',
        source: options.controlDir,
        options: ['rbind', 'ro', 'nosuid', 'noexec', 'nodev'],
      },
      ...(options.resolvConf
        ? [
            {
              destination: '/etc/resolv.conf',
              type: 'bind',
              source: options.resolvConf,
              options: ['bind', 'ro', 'nosuid', 'noexec', 'nodev'],
            },
          ]
        : []),
      ...(options.binds ?? []).map((bind) => ({
        destination: bind.path,
        type: 'bind',
        source: bind.hostPath,
        options: ['rbind', bind.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'],
      })),
    ],
    linux: {
      ...(options.seccomp ? { seccomp: containerSeccomp() } : {}),
      cgroupsPath: options.cgroupsPath,
      resources: {
        memory: { limit: options.limits.memoryBytes },
        cpu: { period: 100_000, quota: Math.round(options.limits.vcpus * 100_000) },
        pids: { limit: options.pidsLimit },
      },
      namespaces: [
        { type: 'pid' },
        options.netnsPath ? { type: 'network', path: options.netnsPath } : { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
      ],
      maskedPaths: [
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  writeFileSync(join(options.bundleDir, 'config.json'), JSON.stringify(config, null, 2));
}

/** Where the daemon is inside every sandbox, and the socket it serves the control plane on. */
export const daemonPath = '/.runtools/bin/runtools-daemon';
export const daemonSocket = '/.runtools/run/daemon.sock';
export const daemonControl = '/.runtools/ctl';

/**
 * Root inside a sandbox gets Docker's default set, not the host's full set, less CAP_NET_RAW: raw sockets let
 * a sandbox forge packets on its network; what needs them (ping, packet capture) is not worth that.
 */
const defaultCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
