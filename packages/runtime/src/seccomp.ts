/**
 * The seccomp filter of container (crun) sandboxes, which share the host's kernel: the system calls Docker's
 * default profile refuses to a container without extra capabilities, refused here too (EPERM), so that the
 * kernel surface a sandbox reaches is the one Docker users already rely on. It is a deny list over an allowed
 * default: the calls left are those Docker allows, and a workload that runs in Docker runs here. Beyond
 * Docker's: no new user namespaces at all (`unshare -U`, `clone(CLONE_NEWUSER)`: root in a fresh user namespace
 * gets every capability in it, the usual first step of a kernel exploit) and no io_uring (which Docker 25 also
 * refuses). gVisor sandboxes need none of this: their system calls reach gVisor's own kernel, not the host's.
 */
const refused = [
  // Kernel modules, kexec, reboot, swap, clocks, accounting, quotas: the host's, not a container's.
  'acct',
  'create_module',
  'delete_module',
  'finit_module',
  'get_kernel_syms',
  'init_module',
  'query_module',
  'kexec_file_load',
  'kexec_load',
  'reboot',
  'swapon',
  'swapoff',
  'clock_adjtime',
  'clock_settime',
  'settimeofday',
  'quotactl',
  'syslog',
  'vhangup',
  // Namespaces and mounts: a sandbox stays in the ones it was given.
  'unshare',
  'setns',
  'mount',
  'umount2',
  'pivot_root',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  // Kernel keyrings, eBPF, perf, userfaultfd, io_uring: large attack surfaces with a history of exploits.
  'add_key',
  'keyctl',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  // Raw I/O ports, NUMA policy of the host's memory, file handles that bypass path checks, obsolete calls.
  'ioperm',
  'iopl',
  'get_mempolicy',
  'set_mempolicy',
  'mbind',
  'move_pages',
  'name_to_handle_at',
  'open_by_handle_at',
  'kcmp',
  'lookup_dcookie',
  'nfsservctl',
  'sysfs',
  '_sysctl',
  'uselib',
  'ustat',
];

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

/** The architectures a filter covers: the host's native one and its compat ABIs (a 32-bit call is filtered too). */
function architectures(): string[] {
  if (process.arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
}

/** The OCI `linux.seccomp` object of a container sandbox. */
export function containerSeccomp() {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: architectures(),
    syscalls: [
      { names: refused, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      {
        names: ['clone'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      // clone3 passes its flags in memory, where a filter cannot look: refused as unknown, so that the C
      // library falls back to clone (above).
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}
