import type { OciSeccomp } from './types';

/**
 * peapod's RuntimeDefault seccomp profile, the one profile both front ends
 * use (the CRI's RuntimeDefault and every `peapod run`/`create` unless told
 * otherwise): every system call is allowed except those that let a
 * container reach beyond itself (kernel modules, clocks, kexec, keyrings,
 * other processes' memory, new mounts and namespaces, io_uring, …). Such
 * calls fail with EPERM. A call that a capability makes legitimate stays
 * allowed when the container holds that capability, the way moby's and
 * containers-common's default profiles gate them (docs/security.md compares
 * the three).
 *
 * It is a deny-list (default action allow): runc compiles the filter with
 * libseccomp at every create, and a short list costs it little; an allow-list
 * of ~440 names (podman's) costs more and breaks new system calls until the
 * list learns them.
 *
 * Table: syscall names → the capability that unblocks them (`null`: never).
 */
const BLOCKED: ReadonlyArray<[string[], string | null]> = [
  [['acct'], 'CAP_SYS_PACCT'],
  [['add_key', 'keyctl', 'request_key'], null],
  [['bpf'], 'CAP_SYS_ADMIN'],
  [['clock_adjtime', 'clock_adjtime64', 'clock_settime', 'clock_settime64', 'settimeofday', 'stime'], 'CAP_SYS_TIME'],
  [['create_module', 'delete_module', 'finit_module', 'init_module', 'query_module', 'get_kernel_syms'], 'CAP_SYS_MODULE'],
  [['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'], 'CAP_SYS_NICE'],
  [['ioperm', 'iopl'], 'CAP_SYS_RAWIO'],
  // io_uring runs the calls it is handed outside seccomp's view, and has been a steady source of kernel exploits (moby and containers-common block it).
  [['io_uring_enter', 'io_uring_register', 'io_uring_setup'], null],
  [['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'], 'CAP_SYS_PTRACE'],
  [['kexec_file_load', 'kexec_load', 'reboot'], 'CAP_SYS_BOOT'],
  [['lookup_dcookie', 'perf_event_open', 'quotactl', 'quotactl_fd', 'fanotify_init'], 'CAP_SYS_ADMIN'],
  [['mount', 'umount', 'umount2', 'pivot_root', 'setns', 'unshare', 'swapon', 'swapoff'], 'CAP_SYS_ADMIN'],
  // The new mount API (Linux 5.2+) and mount_setattr (5.12+): the same power as mount(2).
  [['fsconfig', 'fsmount', 'fsopen', 'fspick', 'mount_setattr', 'move_mount', 'open_tree'], 'CAP_SYS_ADMIN'],
  [['name_to_handle_at', 'open_by_handle_at'], 'CAP_DAC_READ_SEARCH'],
  [['nfsservctl', 'sysfs', '_sysctl', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old'], null],
  [['syslog'], 'CAP_SYSLOG'],
  [['vhangup'], 'CAP_SYS_TTY_CONFIG'],
];

/**
 * clone(2) flags that make namespaces (linux/sched.h): CLONE_NEWNS,
 * CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
 * CLONE_NEWNET. Without CAP_SYS_ADMIN a clone asking for any of them fails
 * with EPERM, as moby's profile has it (unshare(2) is blocked whole above):
 * a new user namespace would hand the process a full capability set over
 * fresh namespaces, the start of many kernel exploits.
 */
export const CLONE_NAMESPACE_FLAGS: readonly number[] = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

/** errno ENOSYS: clone3 answers it, so libc falls back to clone, whose flags the filter can read (clone3 passes them in memory). */
const ENOSYS = 38;
/** errno EPERM. */
const EPERM = 1;

/** Personas a container may set (moby's): PER_LINUX, PER_LINUX32, UNAME26 with either; 0xffffffff only queries. */
const ALLOWED_PERSONA_BITS = 0x00000008 | 0x00020000;
/** The top bit of the 32-bit persona: set only by the query value 0xffffffff among the allowed ones. */
const PERSONA_TOP = 0x80000000;

type Rule = NonNullable<OciSeccomp['syscalls']>[number];

/**
 * personality(2) restricted to moby's allowed values (0, 8, 0x20000,
 * 0x20008, 0xffffffff): flags such as ADDR_NO_RANDOMIZE (ASLR off) and
 * READ_IMPLIES_EXEC fail with EPERM. libseccomp takes one comparison per
 * argument in a rule (a second on the same argument does not AND), and a
 * default-allow filter cannot hold allow rules, so the denied values are the
 * union of single masked comparisons: a bit outside the allowed ones with the
 * top bit clear, or the top bit with any other bit clear (anything but the
 * query value).
 */
function personalityRules(): Rule[] {
  const rules: Rule[] = [];
  for (let b = 0; b < 31; b++) {
    const bit = 2 ** b;
    if ((ALLOWED_PERSONA_BITS & bit) === 0) rules.push(maskedRule('personality', 0, bit + PERSONA_TOP, bit, EPERM));
    rules.push(maskedRule('personality', 0, bit + PERSONA_TOP, PERSONA_TOP, EPERM));
  }
  return rules;
}

/** A rule failing `name` with `errno` when `(arg[index] & mask) === value` (SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the datum). */
function maskedRule(name: string, index: number, mask: number, value: number, errno: number): Rule {
  return { names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: errno, args: [{ index, value: mask, valueTwo: value, op: 'SCMP_CMP_MASKED_EQ' }] };
}

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
 * @returns a profile whose default action allows: first one rule listing the
 *   blocked calls with errno EPERM (1), then the argument rules: clone's
 *   namespace flags (EPERM) and clone3 (ENOSYS) unless CAP_SYS_ADMIN is
 *   held, and personality's values (EPERM). On an architecture other than
 *   x86 and arm (where clone's flags are not its first argument, as on s390x)
 *   clone is left to the capability checks.
 */
export function defaultSeccompProfile(capabilities: readonly string[], nodeArch: string = process.arch): OciSeccomp {
  const held = new Set(capabilities);
  const names: string[] = [];
  for (const [calls, cap] of BLOCKED) {
    if (cap !== null && held.has(cap)) continue;
    names.push(...calls);
  }
  const architectures = seccompArchitectures(nodeArch);
  const syscalls: Rule[] = names.length > 0 ? [{ names: names.sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }] : [];
  if (!held.has('CAP_SYS_ADMIN')) {
    if (architectures.length > 0) for (const flag of CLONE_NAMESPACE_FLAGS) syscalls.push(maskedRule('clone', 0, flag, flag, EPERM));
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  syscalls.push(...personalityRules());
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures, syscalls };
}
