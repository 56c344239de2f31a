/**
 * The set-up the side-by-side CPU benches share (exec-cpu.ts, rpc-cpu.ts,
 * pod-cpu.ts, pull-cpu.ts): two builds of peapod-cri, this one and
 * `--against`, run at once against one registry (with a busybox image
 * pushed), one CNI network (or one per build) and one log directory,
 * measured in alternating rounds; everything is torn down afterwards in
 * reverse order, each step's failure logged, none skipped. Also their small
 * readings: CPU time of a server's threads from /proc/PID/task/TID/schedstat
 * (ns), of a process and its reaped children from /proc/PID/stat (ticks),
 * and the median.
 *
 * The benches are run from the build (see their headers):
 *   npm run build && node dist/bench/exec-cpu.js --against OTHER/dist/src/server/main.js
 *   npm run build && node dist/bench/rpc-cpu.js --against OTHER/dist/src/server/main.js
 *   npm run build && node dist/bench/pod-cpu.js --against OTHER/dist/src/server/main.js
 *   npm run build && node dist/bench/pull-cpu.js --against OTHER/dist/src/server/main.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, pushImage } from '../test/fixtures/image-builder';
import { makeTestCniNetwork } from '../test/integration/harness/cni-net';
import { startRegistry } from '../test/integration/harness/registry';
import { PEAPOD_CRI_MAIN } from '../test/integration/harness/server';
import { startPeapod } from './peapod';
import { findProcesses } from './procs';
import type { RuntimeUnderTest } from './runtime';
import { removeAllPods } from './workloads';

/** ns on CPU of thread `tid` of `pid` so far (schedstat's first field); 0 when it is gone. */
export function threadNs(pid: number, tid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}

/** The last ns on CPU seen of each thread, by pid and tid: a thread that has ended since still counts (serverCpu). */
const seenNs = new Map<number, Map<number, number>>();

/**
 * ms on CPU of every thread of `pid` so far, and of its main thread alone
 * (finer than /proc/PID/stat's ticks). A thread that ended since an earlier
 * call counts with what it had then, so the figure never goes down (a
 * worker thread's exit between two readings made a difference negative);
 * what a thread did between the last reading and its exit is missed.
 */
export function serverCpu(pid: number): { all: number; main: number } {
  const seen = seenNs.get(pid) ?? new Map<number, number>();
  seenNs.set(pid, seen);
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const ns = threadNs(pid, Number(tid));
    if (ns > (seen.get(Number(tid)) ?? 0)) seen.set(Number(tid), ns);
  }
  let all = 0;
  for (const ns of seen.values()) all += ns;
  return { all: all / 1e6, main: (seen.get(pid) ?? 0) / 1e6 };
}

/** USER_HZ: /proc/PID/stat's times are in 1/100 s on Linux. */
const TICK_MS = 10;

/**
 * ms on CPU of process `pid` itself (every thread it ever had, exited ones
 * included: utime+stime) and of the children it has reaped (cutime+cstime),
 * from /proc/PID/stat fields 14-17, in ticks of 10 ms.
 */
export function processCpu(pid: number): { self: number; children: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (Number(f[11]) + Number(f[12])) * TICK_MS, children: (Number(f[13]) + Number(f[14])) * TICK_MS };
}

/** The median of `xs` (not empty). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A log line writer to stderr, `[name HH:MM:SS] msg`. */
export function benchLog(name: string): (msg: string) => void {
  return (msg) => process.stderr.write(`[${name} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Which builds run and how (the benches' `--against` and `--server-node-flags`). */
export interface TwoBuildsOptions {
  /** The bench's name: its log lines and its log directory's prefix. */
  name: string;
  /** The other build's dist/src/server/main.js; absent: this build alone. */
  against?: string;
  /** Node flags for this build's server, space-separated (e.g. "--cpu-prof --cpu-prof-dir=DIR"). */
  serverNodeFlags?: string;
  /** TOML put before the bench's own keys in each build's configuration, by label ('this', 'against'). */
  extraConfig?: { this?: string; against?: string };
  /** One CNI network per build instead of one for both (so the builds' bridges and leases never meet). */
  networkPerBuild?: boolean;
}

/** One running build. */
export interface BuildUnderTest {
  /** 'against' or 'this'. */
  label: string;
  rt: RuntimeUnderTest;
}

/** What the bench body gets: the builds (`against` first when given), the registry, the pushed image and the pods' log directory. */
export interface TwoBuilds {
  builds: BuildUnderTest[];
  /** The registry's base URL (`http://HOST`) and `HOST`, for images the body pushes itself. */
  registry: { url: string; host: string };
  /** `HOST/bench/busybox:v1` in the registry. */
  image: string;
  logRoot: string;
  log: (msg: string) => void;
}

/**
 * Runs `body` with a registry (busybox pushed as bench/busybox:v1), a CNI
 * network, a log directory and the servers of both builds started (each
 * image pull is the body's), then removes each server's pods, stops the
 * servers and the registry, and removes the network and the directory,
 * whether the body succeeded or not.
 * @returns what the body returns
 * @throws what the set-up or the body throws (after the clean-up)
 */
export async function withTwoBuilds<T>(o: TwoBuildsOptions, body: (b: TwoBuilds) => Promise<T>): Promise<T> {
  const log = benchLog(o.name);
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const reg = await startRegistry();
    cleanups.push(() => reg.stop());
    const network = (): string => {
      const net = makeTestCniNetwork();
      cleanups.push(() => net.cleanup());
      return net.confDir;
    };
    const shared = o.networkPerBuild ? undefined : network();
    const logRoot = fs.mkdtempSync(path.join(os.tmpdir(), `peapod-${o.name}-logs-`));
    cleanups.push(() => fs.rmSync(logRoot, { recursive: true, force: true }));
    await pushImage(reg.url, 'bench/busybox', 'v1', await busyboxImage());
    const image = `${reg.host}/bench/busybox:v1`;
    const specs: { label: 'this' | 'against'; main: string; flags: string[] }[] = [{ label: 'this', main: PEAPOD_CRI_MAIN, flags: o.serverNodeFlags ? o.serverNodeFlags.split(' ').filter(Boolean) : [] }];
    if (o.against) specs.unshift({ label: 'against', main: path.resolve(o.against), flags: [] });
    const builds: BuildUnderTest[] = [];
    for (const b of specs) {
      log(`starting ${b.label} (${b.main})`);
      const rt = await startPeapod({ cniConfDir: shared ?? network(), nodeFlags: b.flags, serverMain: b.main, extraConfig: o.extraConfig?.[b.label] });
      cleanups.push(async () => {
        await removeAllPods(rt).catch((e: unknown) => log(`removing ${b.label}'s pods: ${String(e)}`));
        await rt.stop();
      });
      builds.push({ label: b.label, rt });
    }
    return await body({ builds, registry: { url: reg.url, host: reg.host }, image, logRoot, log });
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log(`cleanup: ${String(err)}`);
      }
    }
  }
}

/**
 * The pid of the spawn server's helper (`peapod-spawner`) that is a child of `rt`'s server.
 * @throws naming `label` when there is none
 */
export function spawnerHelperPid(rt: RuntimeUnderTest, label: string): number {
  const helper = findProcesses((a) => path.basename(a[0]) === 'peapod-spawner').find((p) => fs.readFileSync(`/proc/${p.pid}/stat`, 'latin1').split(') ')[1].split(' ')[1] === String(rt.serverPid()));
  if (!helper) throw new Error(`${label}: no peapod-spawner child of ${rt.serverPid()}`);
  return helper.pid;
}

/**
 * The benches' markdown table of per-round figures: one row per field, for
 * each build the median and the minimum over the rounds, and with two builds
 * the ratio of the medians (the second build over the first: this/against).
 * @param results each build's rounds, by label
 * @param fields the rounds' keys with their row names
 * @param digits decimals of the medians and minimums
 * @returns the table's lines
 */
export function roundsTable<R>(labels: string[], results: Record<string, R[]>, fields: [keyof R, string][], digits: number): string[] {
  const head = ['metric', ...labels.map((l) => `${l} (median, min over rounds)`), ...(labels.length === 2 ? ['ratio this/against (median)'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const [k, name] of fields) {
    const med = labels.map((l) => median(results[l].map((r) => Number(r[k]))));
    const min = labels.map((l) => Math.min(...results[l].map((r) => Number(r[k]))));
    const ratio = labels.length === 2 ? [(med[1] / med[0]).toFixed(2)] : [];
    lines.push(`| ${[name, ...med.map((m, i) => `${m.toFixed(digits)}, ${min[i].toFixed(digits)}`), ...ratio].join(' | ')} |`);
  }
  return lines;
}

/** The subjects in round `round`'s order: as given in even rounds, reversed in odd ones (A B, B A, ...). */
export function roundOrder<S>(subjects: S[], round: number): S[] {
  return round % 2 ? [...subjects].reverse() : subjects;
}

/** Runs a bench's main: an error's stack on stderr and exit code 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
