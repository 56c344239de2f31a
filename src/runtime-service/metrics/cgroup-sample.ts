import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * One reading of a container's cgroup for the metrics RPCs
 * (ListPodSandboxMetrics): CPU, memory, pids and OOM counters from the v1
 * controllers (cpuacct, memory, pids: the hybrid layout of these machines)
 * or the v2 unified tree. Every field is undefined when its file is absent
 * or unreadable (a controller not mounted, a cgroup just removed): the
 * caller then leaves the metric out rather than report a false zero.
 *
 * Files read (Linux Documentation/admin-guide/cgroup-v1/{cpuacct,memory,pids}.rst
 * and cgroup-v2.rst): v1 cpuacct.usage, cpuacct.stat, memory.usage_in_bytes,
 * memory.max_usage_in_bytes, memory.failcnt, memory.stat, memory.oom_control,
 * pids.current; v2 cpu.stat, memory.current, memory.peak, memory.stat,
 * memory.events, memory.swap.current, pids.current.
 */

/** CPU in nanoseconds, memory in bytes. */
export interface CgroupSample {
  cpuUsageNs?: bigint;
  cpuUserNs?: bigint;
  cpuSystemNs?: bigint;
  /** Enforcement periods of the CFS quota (cpu.stat nr_periods / nr_throttled / throttled_time). */
  cfsPeriods?: bigint;
  cfsThrottledPeriods?: bigint;
  cfsThrottledNs?: bigint;
  memoryUsageBytes?: bigint;
  memoryMaxUsageBytes?: bigint;
  /** Usage minus inactive file pages: the kubelet's working set (never negative). */
  memoryWorkingSetBytes?: bigint;
  memoryRssBytes?: bigint;
  memoryCacheBytes?: bigint;
  memoryMappedFileBytes?: bigint;
  memorySwapBytes?: bigint;
  /** How often usage hit the limit (v1 memory.failcnt, v2 memory.events `max`). */
  memoryFailcnt?: bigint;
  /** OOM kills inside the cgroup (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`). */
  oomKills?: bigint;
  /** Tasks in the cgroup (pids.current). */
  processes?: bigint;
}

/** The root the cgroup filesystems are mounted under. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** At most this many bytes of a cgroup file are read (memory.stat is the largest, about 1.5 KiB). */
const MAX_FILE_BYTES = 64 << 10;

function readText(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** A file holding one unsigned decimal number; undefined otherwise (`max` included). */
export function readNumber(file: string): bigint | undefined {
  const t = readText(file)?.trim();
  return t !== undefined && /^\d+$/.test(t) ? BigInt(t) : undefined;
}

/** A flat keyed file (`key value` lines, e.g. memory.stat, cpu.stat): the numeric values by key. */
export function parseKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

function readKeyed(file: string): Map<string, bigint> {
  return parseKeyed(readText(file));
}

function workingSet(usage: bigint | undefined, inactiveFile: bigint | undefined): bigint | undefined {
  if (usage === undefined) return undefined;
  const inactive = inactiveFile ?? 0n;
  return usage > inactive ? usage - inactive : 0n;
}

/** USER_HZ of cpuacct.stat: 100 on every Linux architecture peapod runs on. */
const USER_HZ = 100n;

/**
 * A sample of cgroup v1 controller directories.
 * @param dirs the directory of each controller (absolute); a missing one leaves its fields undefined
 */
export function sampleV1(dirs: { cpuacct?: string; cpu?: string; memory?: string; pids?: string }): CgroupSample {
  const s: CgroupSample = {};
  if (dirs.cpuacct) {
    s.cpuUsageNs = readNumber(path.join(dirs.cpuacct, 'cpuacct.usage'));
    const st = readKeyed(path.join(dirs.cpuacct, 'cpuacct.stat'));
    const nsPerTick = 1_000_000_000n / USER_HZ;
    if (st.has('user')) s.cpuUserNs = (st.get('user') as bigint) * nsPerTick;
    if (st.has('system')) s.cpuSystemNs = (st.get('system') as bigint) * nsPerTick;
  }
  if (dirs.cpu) {
    const st = readKeyed(path.join(dirs.cpu, 'cpu.stat'));
    s.cfsPeriods = st.get('nr_periods');
    s.cfsThrottledPeriods = st.get('nr_throttled');
    s.cfsThrottledNs = st.get('throttled_time');
  }
  if (dirs.memory) {
    const m = dirs.memory;
    s.memoryUsageBytes = readNumber(path.join(m, 'memory.usage_in_bytes'));
    s.memoryMaxUsageBytes = readNumber(path.join(m, 'memory.max_usage_in_bytes'));
    s.memoryFailcnt = readNumber(path.join(m, 'memory.failcnt'));
    const st = readKeyed(path.join(m, 'memory.stat'));
    const pick = (k: string): bigint | undefined => st.get(`total_${k}`) ?? st.get(k);
    s.memoryRssBytes = pick('rss');
    s.memoryCacheBytes = pick('cache');
    s.memoryMappedFileBytes = pick('mapped_file');
    s.memorySwapBytes = pick('swap');
    s.memoryWorkingSetBytes = workingSet(s.memoryUsageBytes, pick('inactive_file'));
    s.oomKills = readKeyed(path.join(m, 'memory.oom_control')).get('oom_kill');
  }
  if (dirs.pids) s.processes = readNumber(path.join(dirs.pids, 'pids.current'));
  return s;
}

/**
 * A sample of a cgroup v2 directory.
 * @param dir the cgroup's directory in the unified tree (absolute)
 */
export function sampleV2(dir: string): CgroupSample {
  const s: CgroupSample = {};
  const cpu = readKeyed(path.join(dir, 'cpu.stat'));
  const us = (k: string): bigint | undefined => {
    const v = cpu.get(k);
    return v === undefined ? undefined : v * 1000n;
  };
  s.cpuUsageNs = us('usage_usec');
  s.cpuUserNs = us('user_usec');
  s.cpuSystemNs = us('system_usec');
  s.cfsPeriods = cpu.get('nr_periods');
  s.cfsThrottledPeriods = cpu.get('nr_throttled');
  s.cfsThrottledNs = us('throttled_usec');
  s.memoryUsageBytes = readNumber(path.join(dir, 'memory.current'));
  s.memoryMaxUsageBytes = readNumber(path.join(dir, 'memory.peak'));
  const st = readKeyed(path.join(dir, 'memory.stat'));
  s.memoryRssBytes = st.get('anon');
  s.memoryCacheBytes = st.get('file');
  s.memoryMappedFileBytes = st.get('file_mapped');
  s.memorySwapBytes = readNumber(path.join(dir, 'memory.swap.current'));
  s.memoryWorkingSetBytes = workingSet(s.memoryUsageBytes, st.get('inactive_file'));
  const ev = readKeyed(path.join(dir, 'memory.events'));
  s.memoryFailcnt = ev.get('max');
  s.oomKills = ev.get('oom_kill');
  s.processes = readNumber(path.join(dir, 'pids.current'));
  return s;
}

/**
 * Parses /proc/<pid>/cgroup: controller name (`memory`, `cpuacct`, … and
 * `` for the v2 unified hierarchy) → the cgroup's path in that hierarchy.
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1].split(',')) out.set(c, m[2]);
  }
  return out;
}

/**
 * A sample of the cgroups process `pid` lives in: the v1 controllers when
 * the host mounts them (hybrid or legacy layout), else the v2 unified tree.
 * An empty sample when the process is gone.
 * @param pid a host pid (a container's init process)
 * @param root where the cgroup filesystems are mounted (tests point it elsewhere)
 */
export function sampleProcessCgroups(pid: number, root: string = CGROUP_ROOT): CgroupSample {
  const text = readText(`/proc/${pid}/cgroup`);
  if (text === undefined) return {};
  const cg = parseProcCgroup(text);
  const v1 = (controller: string, mount: string = controller): string | undefined => {
    const p = cg.get(controller);
    return p === undefined ? undefined : path.join(root, mount, p);
  };
  if (cg.has('memory') || cg.has('cpuacct')) {
    // cpu and cpuacct are mounted apart on some hosts, together (`cpu,cpuacct`) on others.
    const mountOf = (c: string): string => (fs.existsSync(path.join(root, c)) ? c : 'cpu,cpuacct');
    return sampleV1({ cpuacct: v1('cpuacct', mountOf('cpuacct')), cpu: v1('cpu', mountOf('cpu')), memory: v1('memory'), pids: v1('pids') });
  }
  const unified = cg.get('');
  return unified === undefined ? {} : sampleV2(path.join(root, unified));
}
