import type { OciSeccomp } from './types';

/**
 * peapod's RuntimeDefault seccomp profile: every system call is allowed
 * except those that let a container reach beyond itself (kernel modules,
 * clocks, kexec, keyrings, other processes' memory, new mounts and
 * namespaces, …). Such calls fail with EPERM. A call that a capability
 * makes legitimate stays allowed when the container holds that capability,
 * the way Docker's and containerd's default profiles gate them.
 *
 * Table: syscall names → the capability that unblocks them (`null`: never).
 */
const BLOCKED: ReadonlyArray<[string[], string | null]> = [
  [['acct'], 'CAP_SYS_PACCT'],
  [['add_key', 'keyctl', 'request_key'], null],
  [['bpf'], 'CAP_SYS_ADMIN'],
  [['clock_adjtime', 'clock_settime', 'settimeofday', 'stime'], 'CAP_SYS_TIME'],
  [['create_module', 'delete_module', 'finit_module', 'init_module', 'query_module', 'get_kernel_syms'], 'CAP_SYS_MODULE'],
  [['get_mempolicy', 'mbind', 'set_mempolicy', 'move_pages'], 'CAP_SYS_NICE'],
  [['ioperm', 'iopl'], 'CAP_SYS_RAWIO'],
  [['kcmp', 'process_vm_readv', 'process_vm_writev', 'ptrace'], 'CAP_SYS_PTRACE'],
  [['kexec_file_load', 'kexec_load', 'reboot'], 'CAP_SYS_BOOT'],
  [['lookup_dcookie', 'perf_event_open', 'quotactl', 'fanotify_init'], 'CAP_SYS_ADMIN'],
  [['mount', 'umount', 'umount2', 'pivot_root', 'setns', 'unshare', 'swapon', 'swapoff'], 'CAP_SYS_ADMIN'],
  [['fsconfig', 'fsmount', 'fsopen', 'fspick', 'move_mount', 'open_tree'], 'CAP_SYS_ADMIN'],
  [['name_to_handle_at', 'open_by_handle_at'], 'CAP_DAC_READ_SEARCH'],
  [['nfsservctl', 'sysfs', '_sysctl', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old'], null],
  [['syslog'], 'CAP_SYSLOG'],
];

/** The architectures a profile names on this machine: the native one and its compat modes. */
export function seccompArchitectures(nodeArch: string = process.arch): string[] {
  switch (nodeArch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    default:
      return [];
  }
}

/**
 * Builds the RuntimeDefault profile for a container (OCI runtime-spec
 * `linux.seccomp`).
 *
 * @param capabilities the container's bounding capabilities (`CAP_…` names)
 * @param nodeArch Node's `process.arch` of the host (default: this process's)
 * @returns a profile whose default action allows, listing the blocked calls with errno EPERM (1)
 */
export function defaultSeccompProfile(capabilities: readonly string[], nodeArch: string = process.arch): OciSeccomp {
  const held = new Set(capabilities);
  const names: string[] = [];
  for (const [calls, cap] of BLOCKED) {
    if (cap !== null && held.has(cap)) continue;
    names.push(...calls);
  }
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: seccompArchitectures(nodeArch),
    syscalls: names.length > 0 ? [{ names: names.sort(), action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] : [],
  };
}
