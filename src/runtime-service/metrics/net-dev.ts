import * as fs from 'node:fs';
import { runHostCommand } from '../../common/host/command';

/**
 * The network counters of a pod's namespace for the metrics RPCs: every
 * interface of /proc/net/dev as seen inside the namespace, loopback
 * included (CRI-O reports every link of the namespace; the `interface`
 * label tells them apart).
 */

/** One interface's counters (proc(5), /proc/net/dev). */
export interface InterfaceStats {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** At most this many interfaces are taken from one namespace. */
export const MAX_INTERFACES = 256;

/**
 * Parses /proc/net/dev text: two header lines, then one line per
 * interface `name: rx bytes packets errs drop fifo frame compressed
 * multicast tx bytes packets errs drop fifo colls carrier compressed`.
 * Malformed lines are skipped; at most MAX_INTERFACES are returned.
 */
export function parseNetDevAll(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    if (out.length >= MAX_INTERFACES) break;
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/);
    if (f.length < 16 || !f.every((x) => /^\d+$/.test(x))) continue;
    const n = f.map((x) => BigInt(x));
    out.push({ name: m[1], rxBytes: n[0], rxPackets: n[1], rxErrors: n[2], rxDropped: n[3], txBytes: n[8], txPackets: n[9], txErrors: n[10], txDropped: n[11] });
  }
  return out;
}

/** /proc/net/dev is a few hundred bytes per interface. */
const MAX_NET_DEV_BYTES = 256 << 10;

/** Milliseconds nsenter may take to read a namespace's counters. */
const NSENTER_TIMEOUT_MS = 10_000;

function readProcNetDev(pid: number): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${pid}/net/dev`, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(MAX_NET_DEV_BYTES);
    let len = 0;
    // procfs hands a file out in pieces: read until the end (or the bound).
    for (;;) {
      const n = fs.readSync(fd, buf, len, buf.length - len, null);
      if (n === 0 || len + n >= buf.length) {
        len += n;
        break;
      }
      len += n;
    }
    return buf.subarray(0, len).toString('utf8');
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The counters of a pod's network namespace: read through the /proc of a
 * process inside it when there is one (`pids`, e.g. its running
 * containers' init processes; the first readable one wins), else inside the
 * pinned namespace file with nsenter. [] for a pod on the host network, or
 * when nothing can be read.
 * @param pod the pod's network: `hostNetwork`, and the pinned namespace file
 * @param pids host pids of processes in the pod's network namespace
 */
export async function podInterfaceStats(pod: { hostNetwork: boolean; namespaces: { network?: string } }, pids: number[]): Promise<InterfaceStats[]> {
  if (pod.hostNetwork) return [];
  for (const pid of pids) {
    const text = pid > 0 ? readProcNetDev(pid) : undefined;
    if (text !== undefined) return parseNetDevAll(text);
  }
  if (!pod.namespaces.network) return [];
  const text = await runHostCommand('nsenter', [`--net=${pod.namespaces.network}`, 'cat', '/proc/self/net/dev'], { timeoutMs: NSENTER_TIMEOUT_MS }).catch(() => '');
  return parseNetDevAll(text);
}
