import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand } from '../../common/host/command';
import { nowNs } from '../../common/time';

/**
 * Reads a container's resource usage from its cgroup (v1 controllers or the
 * v2 unified tree), for ContainerStats; its writable layer is measured in
 * the background (layer-usage.ts).
 */

/** Usage numbers; undefined when not readable. cpu in ns, memory in bytes. */
export interface CgroupUsage {
  cpuUsageNs?: bigint;
  memoryUsageBytes?: bigint;
  memoryWorkingSetBytes?: bigint;
  memoryRssBytes?: bigint;
  pageFaults?: bigint;
  majorPageFaults?: bigint;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Whether the host mounts a pure cgroup v2 tree (no v1 controllers). */
export function isCgroupV2(): boolean {
  return fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
}

/** The cgroup paths of a process: controller name (`memory`, `cpuacct`, … or `` for v2) → path. */
export function processCgroups(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1].split(',')) out.set(c, m[2]);
  }
  return out;
}

function readBig(file: string): bigint | undefined {
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(t) ? BigInt(t) : undefined;
  } catch {
    return undefined;
  }
}

function readKeyed(file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v && /^\d+$/.test(v)) out.set(k, BigInt(v));
    }
  } catch {
    /* absent */
  }
  return out;
}

/**
 * Usage of the cgroups a process lives in. Working set = usage minus
 * inactive file pages (the kubelet's definition).
 */
export function cgroupUsage(pid: number): CgroupUsage {
  const cg = processCgroups(pid);
  const out: CgroupUsage = {};
  if (cg.has('memory') || cg.has('cpuacct')) {
    const cpuDir = path.join(CGROUP_ROOT, 'cpuacct', cg.get('cpuacct') ?? '');
    out.cpuUsageNs = readBig(path.join(cpuDir, 'cpuacct.usage'));
    const memDir = path.join(CGROUP_ROOT, 'memory', cg.get('memory') ?? '');
    out.memoryUsageBytes = readBig(path.join(memDir, 'memory.usage_in_bytes'));
    const st = readKeyed(path.join(memDir, 'memory.stat'));
    out.memoryRssBytes = st.get('total_rss') ?? st.get('rss');
    const inactive = st.get('total_inactive_file') ?? st.get('inactive_file') ?? 0n;
    if (out.memoryUsageBytes !== undefined) out.memoryWorkingSetBytes = out.memoryUsageBytes > inactive ? out.memoryUsageBytes - inactive : 0n;
    out.pageFaults = st.get('total_pgfault') ?? st.get('pgfault');
    out.majorPageFaults = st.get('total_pgmajfault') ?? st.get('pgmajfault');
  } else if (cg.has('')) {
    const dir = path.join(CGROUP_ROOT, cg.get('') as string);
    const cpu = readKeyed(path.join(dir, 'cpu.stat'));
    const usec = cpu.get('usage_usec');
    if (usec !== undefined) out.cpuUsageNs = usec * 1000n;
    out.memoryUsageBytes = readBig(path.join(dir, 'memory.current'));
    const st = readKeyed(path.join(dir, 'memory.stat'));
    out.memoryRssBytes = st.get('anon');
    const inactive = st.get('inactive_file') ?? 0n;
    if (out.memoryUsageBytes !== undefined) out.memoryWorkingSetBytes = out.memoryUsageBytes > inactive ? out.memoryUsageBytes - inactive : 0n;
    out.pageFaults = st.get('pgfault');
    out.majorPageFaults = st.get('pgmajfault');
  }
  return out;
}

/** One interface's counters from /proc/net/dev. */
export interface InterfaceCounters {
  name: string;
  rxBytes: bigint;
  rxErrors: bigint;
  txBytes: bigint;
  txErrors: bigint;
}

/** Parses /proc/net/dev text, loopback excluded. */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2].trim().split(/\s+/).map((x) => BigInt(x));
    out.push({ name: m[1], rxBytes: f[0], rxErrors: f[2], txBytes: f[8], txErrors: f[10] });
  }
  return out;
}

/** Network counters of the namespace a process lives in (from /proc/<pid>/net/dev), loopback excluded. */
export function networkUsage(pid: number): InterfaceCounters[] {
  try {
    return parseNetDev(fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return [];
  }
}

/** Resource usage of a container: its cgroup (when running) and its writable layer. */
export interface ContainerUsage {
  /** When it was measured, ns since the epoch. */
  timestampNs: bigint;
  cgroup: CgroupUsage;
  writable: { usedBytes: bigint; inodesUsed: bigint };
}

/**
 * A container's usage (see ContainerUsage): the cgroup of its init process,
 * read now, and `writable`, the bytes and inodes of its writable layer as
 * measured in the background (layer-usage.ts: a tree walk never runs here).
 */
export function containerUsage(rec: { state: string; pid: number }, writable: { usedBytes: bigint; inodesUsed: bigint }): ContainerUsage {
  const cgroup = rec.state === 'running' && rec.pid > 0 ? cgroupUsage(rec.pid) : {};
  return { timestampNs: nowNs(), cgroup, writable: { usedBytes: writable.usedBytes, inodesUsed: writable.inodesUsed } };
}

/** /proc/net/dev as seen inside a network namespace file (via nsenter); '' when it cannot be read. */
function netDevOfNamespace(nsPath: string): Promise<string> {
  return runHostCommand('nsenter', [`--net=${nsPath}`, 'cat', '/proc/self/net/dev'], { timeoutMs: 10_000 }).catch(() => '');
}

/**
 * The network counters of a pod's namespace, loopback excluded: read through
 * a running container's /proc when there is one, else inside the pinned
 * namespace. [] for a pod on the host network.
 */
export async function podNetworkUsage(pod: { hostNetwork: boolean; namespaces: { network?: string } }, containers: { state: string; pid: number }[]): Promise<InterfaceCounters[]> {
  if (pod.hostNetwork) return [];
  const running = containers.find((r) => r.state === 'running' && r.pid > 0);
  const devs = running ? networkUsage(running.pid) : [];
  if (devs.length === 0 && pod.namespaces.network) return parseNetDev(await netDevOfNamespace(pod.namespaces.network));
  return devs;
}
