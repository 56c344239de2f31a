/**
 * Reading processes from /proc: finding monitors (conmon, containerd-shim)
 * by their command line, and their memory (RSS from /proc/PID/status, PSS
 * from /proc/PID/smaps_rollup), in bytes.
 */
import * as fs from 'node:fs';

/** A process and its argv (from /proc/PID/cmdline). */
export interface ProcInfo {
  pid: number;
  argv: string[];
}

/** Every process whose argv satisfies `match` (processes that vanish mid-scan are skipped). */
export function findProcesses(match: (argv: string[]) => boolean): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
      if (argv.length > 0 && match(argv)) out.push({ pid: Number(name), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A "Key:   123 kB" field of a /proc file, in bytes; 0 when absent or the process is gone. */
function kbField(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  return kbField(`/proc/${pid}/status`, 'VmRSS');
}

/** Proportional set size of `pid` in bytes (smaps_rollup Pss): shared pages divided among their users. */
export function pssBytes(pid: number): number {
  return kbField(`/proc/${pid}/smaps_rollup`, 'Pss');
}
