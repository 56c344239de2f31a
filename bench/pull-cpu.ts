/**
 * PullImage's cost, for two builds of peapod-cri side by side: what holds on
 * a loaded machine where wall times do not. Both servers run at once and
 * are measured in alternating rounds (A B, B A, ...). Per round and build,
 * for the large image (`--mb` MB in 5 layers, as `npm run bench`'s pull)
 * and for busybox (one small layer, as critest's PullImage):
 * RemoveImage, then PullImage; the server's CPU time for the pull, of all
 * its threads (the layer workers included: /proc/PID/stat utime+stime,
 * which keeps the time of threads that have exited) and of its main thread
 * alone (/proc/PID/task/PID/schedstat); the wall time.
 *
 *   npm run build && node dist/bench/pull-cpu.js --against /tmp/base/dist/src/server/main.js [--rounds 4] [--mb 200]
 *   node dist/bench/pull-cpu.js --server-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
 */
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, largeImage, pushImage } from '../test/fixtures/image-builder';
import { makeTestCniNetwork } from '../test/integration/harness/cni-net';
import { startRegistry } from '../test/integration/harness/registry';
import { PEAPOD_CRI_MAIN } from '../test/integration/harness/server';
import { startPeapod } from './peapod';
import type { RuntimeUnderTest } from './runtime';
import { now } from './workloads';

/** USER_HZ: /proc times are in 1/100 s on Linux. */
const TICK_MS = 10;

/** ms on CPU of every thread `pid` ever had (utime+stime of /proc/PID/stat, ticks). */
function processMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** ms on CPU of the main thread of `pid` (schedstat, ns). */
function mainThreadMs(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function log(msg: string): void {
  process.stderr.write(`[pull-cpu ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

interface Subject {
  label: string;
  rt: RuntimeUnderTest;
}

interface Sample {
  allMs: number;
  mainMs: number;
  wallMs: number;
}

async function pullOnce(s: Subject, ref: string): Promise<Sample> {
  await s.rt.client.image.RemoveImage({ image: { image: ref } }).catch(() => undefined);
  const pid = s.rt.serverPid();
  const a0 = processMs(pid);
  const m0 = mainThreadMs(pid);
  const t0 = now();
  await s.rt.client.image.PullImage({ image: { image: ref } });
  const wallMs = now() - t0;
  return { allMs: processMs(pid) - a0, mainMs: mainThreadMs(pid) - m0, wallMs };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--against <main.js>', "the other build's dist/src/server/main.js")
    .option('--rounds <n>', 'alternating rounds', (v) => parseInt(v, 10), 4)
    .option('--mb <n>', 'size of the large image, MB', (v) => parseInt(v, 10), 200)
    .option('--small <n>', 'small pulls per round and build', (v) => parseInt(v, 10), 5)
    .option('--server-node-flags <flags>', 'node flags for this build\'s peapod-cri, e.g. "--cpu-prof --cpu-prof-dir=DIR"')
    .option('--this-config <toml>', "TOML before the bench's own keys in this build's config, e.g. '[image]\\nmax_concurrent_downloads = 5'")
    .option('--against-config <toml>', 'the same for the other build')
    .parse(process.argv)
    .opts<{ against?: string; rounds: number; mb: number; small: number; serverNodeFlags?: string; thisConfig?: string; againstConfig?: string }>();
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const reg = await startRegistry();
    cleanups.push(() => reg.stop());
    const net = makeTestCniNetwork();
    cleanups.push(() => net.cleanup());
    await pushImage(reg.url, 'bench/busybox', 'v1', await busyboxImage());
    await pushImage(reg.url, 'bench/large', 'v1', await largeImage(o.mb * 1e6, 5));
    const small = `${reg.host}/bench/busybox:v1`;
    const large = `${reg.host}/bench/large:v1`;
    const toml = (t: string | undefined): string | undefined => t?.replace(/\\n/g, '\n');
    const builds: { label: string; main: string; flags: string[]; config?: string }[] = [
      { label: 'this', main: PEAPOD_CRI_MAIN, flags: o.serverNodeFlags ? o.serverNodeFlags.split(' ').filter(Boolean) : [], config: toml(o.thisConfig) },
    ];
    if (o.against) builds.unshift({ label: 'against', main: path.resolve(o.against), flags: [], config: toml(o.againstConfig) });
    const subjects: Subject[] = [];
    for (const b of builds) {
      log(`starting ${b.label} (${b.main})`);
      const rt = await startPeapod({ cniConfDir: net.confDir, nodeFlags: b.flags, serverMain: b.main, extraConfig: b.config });
      cleanups.push(() => rt.stop());
      // Warm-up: one of each.
      await pullOnce({ label: b.label, rt }, large);
      await pullOnce({ label: b.label, rt }, small);
      subjects.push({ label: b.label, rt });
    }
    const results: Record<string, { large: Sample[]; small: Sample[] }> = {};
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 ? [...subjects].reverse() : subjects;
      for (const s of order) {
        const r = (results[s.label] ??= { large: [], small: [] });
        r.large.push(await pullOnce(s, large));
        for (let i = 0; i < o.small; i++) r.small.push(await pullOnce(s, small));
      }
      log(`round ${round + 1} of ${o.rounds} done`);
    }
    const labels = subjects.map((s) => s.label);
    const head = ['metric', ...labels.map((l) => `${l} (median, min)`), ...(labels.length === 2 ? ['ratio this/against (median)'] : [])];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const kind of ['large', 'small'] as const) {
      for (const [k, name] of [
        ['allMs', 'server CPU ms, all threads'],
        ['mainMs', 'server CPU ms, main thread'],
        ['wallMs', 'wall ms'],
      ] as const) {
        const med = labels.map((l) => median(results[l][kind].map((r) => r[k])));
        const min = labels.map((l) => Math.min(...results[l][kind].map((r) => r[k])));
        const ratio = labels.length === 2 ? [(med[1] / med[0]).toFixed(3)] : [];
        lines.push(`| ${[`${kind} pull: ${name}`, ...med.map((m, i) => `${m.toFixed(1)}, ${min[i].toFixed(1)}`), ...ratio].join(' | ')} |`);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n(${o.rounds} rounds, 1 large pull of ${o.mb} MB and ${o.small} small pulls per round and build; load ${os.loadavg()[0].toFixed(1)})\n`);
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

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
