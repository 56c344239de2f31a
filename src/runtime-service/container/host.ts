import * as fs from 'node:fs';

/** Linux capability names by number (include/uapi/linux/capability.h); the CLI checks --cap-add/--cap-drop against them. */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities this kernel knows (up to /proc/sys/kernel/cap_last_cap),
 * limited to those peapod itself holds in its bounding set, since runc
 * cannot grant more than it has.
 */
export function hostCapabilities(): string[] {
  let last = CAPABILITY_NAMES.length - 1;
  try {
    last = Math.min(last, Number.parseInt(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10));
  } catch {
    /* keep the table's */
  }
  let bounding = (1n << BigInt(last + 1)) - 1n;
  try {
    const m = /CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch {
    /* assume all */
  }
  return CAPABILITY_NAMES.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
}

/** This process's oom_score_adj: without CAP_SYS_RESOURCE no child may go below it. */
export function currentOomScoreAdj(): number {
  try {
    return Number.parseInt(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

/** Whether AppArmor is enabled in the kernel. */
export function appArmorEnabled(): boolean {
  try {
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** Linux device numbers of an st_rdev value (glibc's gnu_dev_major/minor). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

/** Whether the memory cgroup accounts swap: always on v2, memory.memsw.* present on v1. */
export function swapControlAvailable(cgroupV2: boolean): boolean {
  return cgroupV2 || fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
}
