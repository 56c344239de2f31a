/**
 * The processes of a running container and the cgroup numbers its stats
 * show beyond stats.ts's (memory limit, PIDs, block I/O), read from /proc
 * and the cgroup files of its init process's cgroup (v1 controllers or the
 * v2 unified tree): what the CLI's `top` and `stats` print.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processCgroups } from './stats';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Clock ticks per second of /proc times (USER_HZ: 100 on Linux for every architecture peapod runs on). */
export const CLOCK_TICKS = 100;

/** One process of a container. */
export interface ContainerProcess {
  /** Its pid on the host. */
  hostPid: number;
  /** Its pid in the container's PID namespace (the last NSpid). */
  pid: number;
  /** Its parent's pid in the container (0 when the parent is outside). */
  ppid: number;
  uid: number;
  gid: number;
  /** One letter (R, S, D, Z, …). */
  state: string;
  /** Kernel start time, in clock ticks after boot. */
  startTicks: number;
  /** User plus system CPU time, in clock ticks. */
  cpuTicks: number;
  /** The controlling terminal's device number (0: none). */
  ttyNr: number;
  nice: number;
  /** Virtual size and resident set, KiB. */
  vszKiB: number;
  rssKiB: number;
  comm: string;
  /** Its command line; [comm] in brackets for a kernel-less argv (a zombie). */
  args: string[];
}

/** A cgroup directory of `pid` for one controller (v1 name, or '' for the v2 tree); undefined when it has none. */
export function cgroupDir(pid: number, controller: string): string | undefined {
  const cg = processCgroups(pid);
  if (cg.has(controller)) return path.join(CGROUP_ROOT, controller === '' ? '' : controller, cg.get(controller) as string);
  if (cg.has('') && !cg.has('memory')) return path.join(CGROUP_ROOT, cg.get('') as string);
  return undefined;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The host pids in the cgroup of `initPid` (the pids or memory controller, else the v2 tree). */
export function cgroupPids(initPid: number): number[] {
  for (const ctrl of ['pids', 'memory', 'cpuacct', '']) {
    const dir = cgroupDir(initPid, ctrl);
    const text = dir ? readText(path.join(dir, 'cgroup.procs')) : undefined;
    if (text !== undefined) return text.split('\n').filter(Boolean).map(Number);
  }
  return [initPid];
}

/** One process from /proc; undefined once it is gone. */
function readProcess(hostPid: number): Omit<ContainerProcess, 'ppid'> & { hostPpid: number } | undefined {
  const stat = readText(`/proc/${hostPid}/stat`);
  const status = readText(`/proc/${hostPid}/status`);
  if (!stat || !status) return undefined;
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(open + 1, close);
  const f = stat.slice(close + 2).split(' ');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  const nspid = field('NSpid').split(/\s+/).filter(Boolean).map(Number);
  const cmdline = readText(`/proc/${hostPid}/cmdline`) ?? '';
  const args = cmdline.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  return {
    hostPid,
    hostPpid: Number(f[1]),
    pid: nspid.length ? nspid[nspid.length - 1] : hostPid,
    uid: Number(field('Uid').split(/\s+/)[0] || 0),
    gid: Number(field('Gid').split(/\s+/)[0] || 0),
    state: f[0],
    startTicks: Number(f[19]),
    cpuTicks: Number(f[11]) + Number(f[12]),
    ttyNr: Number(f[4]),
    nice: Number(f[16]),
    vszKiB: Math.round(Number(f[20]) / 1024),
    rssKiB: Number(field('VmRSS').replace(/\s*kB$/, '') || 0),
    comm,
    args: args.length ? args : [`[${comm}]`],
  };
}

/**
 * The processes of the container whose init process is `initPid`, by pid
 * in the container.
 */
export function containerProcesses(initPid: number): ContainerProcess[] {
  const procs = cgroupPids(initPid)
    .map(readProcess)
    .filter((p): p is NonNullable<typeof p> => p !== undefined);
  const nsOfHost = new Map(procs.map((p) => [p.hostPid, p.pid]));
  return procs
    .map(({ hostPpid, ...p }) => ({ ...p, ppid: nsOfHost.get(hostPpid) ?? 0 }))
    .sort((a, b) => a.pid - b.pid);
}

/** Seconds since boot, now (/proc/uptime). */
export function uptimeSeconds(): number {
  return Number((readText('/proc/uptime') ?? '0').split(' ')[0]);
}

/** The cgroup numbers of a container beyond stats.ts's; undefined when not readable. */
export interface CgroupExtras {
  /** Bytes; undefined when unlimited. */
  memoryLimitBytes?: number;
  pids?: number;
  blockReadBytes?: number;
  blockWriteBytes?: number;
}

/** The extras of the cgroup of `initPid`. */
export function cgroupExtras(initPid: number): CgroupExtras {
  const out: CgroupExtras = {};
  const cg = processCgroups(initPid);
  const v1 = cg.has('memory');
  const num = (file: string | undefined): number | undefined => {
    const t = file ? readText(file)?.trim() : undefined;
    return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
  };
  if (v1) {
    const mem = cgroupDir(initPid, 'memory');
    const limit = num(mem && path.join(mem, 'memory.limit_in_bytes'));
    // v1 writes "no limit" as the largest page-aligned value.
    if (limit !== undefined && limit < 2 ** 62) out.memoryLimitBytes = limit;
    const pids = cgroupDir(initPid, 'pids');
    out.pids = num(pids && path.join(pids, 'pids.current'));
    const blkio = cgroupDir(initPid, 'blkio');
    const text = blkio ? readText(path.join(blkio, 'blkio.throttle.io_service_bytes_recursive')) ?? readText(path.join(blkio, 'blkio.throttle.io_service_bytes')) : undefined;
    if (text !== undefined) {
      out.blockReadBytes = 0;
      out.blockWriteBytes = 0;
      for (const line of text.split('\n')) {
        const [, op, v] = line.trim().split(/\s+/);
        if (op === 'Read') out.blockReadBytes += Number(v);
        if (op === 'Write') out.blockWriteBytes += Number(v);
      }
    }
  } else {
    const dir = cgroupDir(initPid, '');
    if (dir) {
      const max = readText(path.join(dir, 'memory.max'))?.trim();
      if (max && /^\d+$/.test(max)) out.memoryLimitBytes = Number(max);
      out.pids = num(path.join(dir, 'pids.current'));
      const io = readText(path.join(dir, 'io.stat'));
      if (io !== undefined) {
        out.blockReadBytes = 0;
        out.blockWriteBytes = 0;
        for (const m of io.matchAll(/rbytes=(\d+) wbytes=(\d+)/g)) {
          out.blockReadBytes += Number(m[1]);
          out.blockWriteBytes += Number(m[2]);
        }
      }
    }
  }
  return out;
}
