/**
 * `npm run bench`: measures peapod-cri and containerd 1.6's CRI plugin side
 * by side, in one run on one machine, through the same CRI client, with the
 * same CNI plugins and conflist shape, the same local registry and images.
 * Prints a table (metric, peapod, containerd, ratio) and writes
 * bench/results/latest.json.
 *
 *   npm run bench                 # full sizes (about 10 minutes)
 *   npm run bench -- --quick      # small counts (2 to 3 minutes)
 *   npm run bench -- --server-node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof" --only peapod
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, largeImage, pushImage } from '../test/fixtures/image-builder';
import { makeTestCniNetwork, TestCniNetwork } from '../test/integration/harness/cni-net';
import { startRegistry, TestRegistry } from '../test/integration/harness/registry';
import { startContainerd } from './containerd';
import { startPeapod } from './peapod';
import type { RuntimeUnderTest } from './runtime';
import { formatTable, MetricRow, Summary, summarize } from './stats';
import { benchContainer, benchDensity, benchExec, benchFirstLog, benchList, benchPull, benchSandbox, MemorySample, WorkloadContext } from './workloads';

/** Sizes of one benchmark run. */
interface Params {
  runs: number;
  warmup: number;
  pullRuns: number;
  pullMB: number;
  listPods: number;
  densityPods: number;
  concurrency: number;
}

const FULL: Params = { runs: 20, warmup: 2, pullRuns: 3, pullMB: 200, listPods: 100, densityPods: 50, concurrency: 4 };
const QUICK: Params = { runs: 20, warmup: 1, pullRuns: 2, pullMB: 200, listPods: 20, densityPods: 20, concurrency: 4 };

/** One runtime's raw results. */
interface RuntimeResults {
  version: string;
  series: Record<string, number[]>;
  memory?: MemorySample;
  densitySeconds?: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseArgs(argv: string[]): { params: Params; only?: string; nodeFlags: string[]; out: string; quick: boolean } {
  const int = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${v}`);
    return n;
  };
  const env = (name: string): number | undefined => (process.env[name] ? int(process.env[name]!) : undefined);
  const cmd = new Command('bench')
    .option('--quick', 'small counts: 20 pods for lists and density, 2 pulls (env PEAPOD_BENCH_QUICK=1)')
    .option('--runs <n>', 'measured runs per latency metric (env PEAPOD_BENCH_RUNS)', int)
    .option('--warmup <n>', 'warm-up runs before measuring', int)
    .option('--pull-runs <n>', 'measured pulls of the large image', int)
    .option('--pull-mb <n>', 'size of the large image in MB (5 layers)', int)
    .option('--list-pods <n>', 'pods (2 containers each) present for the list metrics (env PEAPOD_BENCH_LIST_PODS)', int)
    .option('--density-pods <n>', 'pods (1 container each) for density and memory (env PEAPOD_BENCH_DENSITY_PODS)', int)
    .option('--concurrency <n>', 'pods started at a time for density', int)
    .option('--only <runtime>', 'measure only peapod or only containerd')
    .option('--server-node-flags <flags>', 'node flags for peapod-cri, space-separated, e.g. "--cpu-prof --cpu-prof-dir=DIR" (env PEAPOD_BENCH_NODE_FLAGS)')
    .option('--out <file>', 'where to write the JSON results', path.resolve(__dirname, '..', '..', 'bench', 'results', 'latest.json'))
    .parse(argv);
  const o = cmd.opts<{ quick?: boolean; runs?: number; warmup?: number; pullRuns?: number; pullMb?: number; listPods?: number; densityPods?: number; concurrency?: number; only?: string; serverNodeFlags?: string; out: string }>();
  const quick = Boolean(o.quick || process.env.PEAPOD_BENCH_QUICK === '1');
  const base = quick ? QUICK : FULL;
  const params: Params = {
    runs: o.runs ?? env('PEAPOD_BENCH_RUNS') ?? base.runs,
    warmup: o.warmup ?? base.warmup,
    pullRuns: o.pullRuns ?? base.pullRuns,
    pullMB: o.pullMb ?? base.pullMB,
    listPods: o.listPods ?? env('PEAPOD_BENCH_LIST_PODS') ?? base.listPods,
    densityPods: o.densityPods ?? env('PEAPOD_BENCH_DENSITY_PODS') ?? base.densityPods,
    concurrency: o.concurrency ?? base.concurrency,
  };
  if (o.only && o.only !== 'peapod' && o.only !== 'containerd') throw new Error('--only takes peapod or containerd');
  const flags = (o.serverNodeFlags ?? process.env.PEAPOD_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return { params, only: o.only, nodeFlags: flags, out: o.out, quick };
}

/** Two throwaway CNI networks with distinct bridges and subnets inside 198.18.0.0/15. */
function makeNetworks(): [TestCniNetwork, TestCniNetwork] {
  const a = makeTestCniNetwork();
  for (;;) {
    const b = makeTestCniNetwork();
    if (b.subnet !== a.subnet) return [a, b];
    b.cleanup();
  }
}

/** Runs every workload against one runtime. */
async function measure(rt: RuntimeUnderTest, p: Params, ctxBase: Omit<WorkloadContext, 'progress'>, large: { ref: string; bytes: number }): Promise<RuntimeResults> {
  const ctx: WorkloadContext = { ...ctxBase, progress: (m) => log(`${rt.name}: ${m}`) };
  const version = (await rt.client.runtime.Version({})).runtime_version;
  const series: Record<string, number[]> = {};
  const add = (r: Record<string, number[]>): void => void Object.assign(series, r);
  add(await benchSandbox(rt, ctx));
  add(await benchContainer(rt, ctx));
  add(await benchExec(rt, ctx));
  add(await benchFirstLog(rt, ctx));
  add(await benchPull(rt, ctx, large.ref, large.bytes, p.pullRuns + 1).then((r) => dropFirst(r)));
  add(await benchList(rt, ctx, p.listPods));
  const d = await benchDensity(rt, ctx, p.densityPods, p.concurrency);
  return { version, series, memory: d.memory, densitySeconds: d.seconds };
}

/** Drops the first sample of each series (a warm-up run). */
function dropFirst(r: Record<string, number[]>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice(1)]));
}

/** Builds the table rows from both runtimes' results. */
function rows(p: Params, res: Partial<Record<'peapod' | 'containerd', RuntimeResults>>): MetricRow[] {
  const s = (rt: 'peapod' | 'containerd', key: string): Summary | undefined => {
    const v = res[rt]?.series[key];
    return v && v.length ? summarize(v) : undefined;
  };
  const one = (v: number | undefined): Summary | undefined => (v === undefined ? undefined : summarize([v]));
  const series = (metric: string, key: string, runs: number, higherIsBetter = false): MetricRow => ({ metric, runs, peapod: s('peapod', key), containerd: s('containerd', key), higherIsBetter });
  const MiB = 1024 * 1024;
  return [
    series('RunPodSandbox with CNI (ms)', 'run', p.runs),
    series('StopPodSandbox + RemovePodSandbox (ms)', 'stopRemove', p.runs),
    series('CreateContainer + StartContainer (ms)', 'createStart', p.runs),
    series('StopContainer(timeout 0) + RemoveContainer (ms)', 'stopRemove_ctr', p.runs),
    series('ExecSync `true` (ms)', 'execSync', p.runs),
    series('RunPodSandbox to first log line (ms)', 'firstLog', p.runs),
    series(`PullImage ${p.pullMB} MB, 5 layers (s)`, 'pullSeconds', p.pullRuns),
    series(`PullImage ${p.pullMB} MB, 5 layers (MB/s)`, 'pullMBps', p.pullRuns, true),
    series(`ListContainers, ${p.listPods} pods x 2 containers (ms)`, 'listContainers', p.runs),
    series(`ListPodSandbox, ${p.listPods} pods (ms)`, 'listPods', p.runs),
    { metric: `Density: start ${p.densityPods} pods x 1 container, ${p.concurrency} at a time (s)`, runs: 1, peapod: one(res.peapod?.densitySeconds), containerd: one(res.containerd?.densitySeconds) },
    { metric: `Server RSS, ${p.densityPods} pods running (MiB)`, runs: 1, peapod: one(mem(res.peapod, 'serverRss', MiB)), containerd: one(mem(res.containerd, 'serverRss', MiB)) },
    { metric: `Monitor PSS per container, ${p.densityPods} running (MiB)`, runs: 1, peapod: one(mem(res.peapod, 'monitorPssPerContainer', MiB)), containerd: one(mem(res.containerd, 'monitorPssPerContainer', MiB)) },
  ];
}

function mem(r: RuntimeResults | undefined, key: 'serverRss' | 'monitorPssPerContainer', unit: number): number | undefined {
  return r?.memory ? r.memory[key] / unit : undefined;
}

async function main(): Promise<void> {
  const { params: p, only, nodeFlags, out, quick } = parseArgs(process.argv);
  log(`sizes: ${JSON.stringify(p)}${quick ? ' (quick)' : ''}`);
  const cleanups: (() => Promise<void> | void)[] = [];
  const results: Partial<Record<'peapod' | 'containerd', RuntimeResults>> = {};
  let registry: TestRegistry | undefined;
  try {
    registry = await startRegistry();
    const reg = registry;
    cleanups.push(() => reg.stop());
    const [netP, netC] = makeNetworks();
    cleanups.push(() => netP.cleanup(), () => netC.cleanup());
    const logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bench-logs-'));
    cleanups.push(() => fs.rmSync(logRoot, { recursive: true, force: true }));

    log('building and pushing images');
    await pushImage(reg.url, 'bench/busybox', 'v1', await busyboxImage());
    await pushImage(reg.url, 'bench/pause', 'v1', await busyboxImage({ Entrypoint: ['/bin/sleep'], Cmd: ['2147483647'] }));
    const big = await largeImage(p.pullMB * 1e6, 5);
    await pushImage(reg.url, 'bench/large', 'v1', big);
    const bigBytes = big.layers.reduce((a, l) => a + l.size, 0) + big.config.length + big.manifest.length;
    const image = `${reg.host}/bench/busybox:v1`;
    const pause = `${reg.host}/bench/pause:v1`;
    const ctxBase = { image, logRoot, warmup: p.warmup, runs: p.runs };
    const large = { ref: `${reg.host}/bench/large:v1`, bytes: bigBytes };

    const starters: Record<'peapod' | 'containerd', () => Promise<RuntimeUnderTest>> = {
      peapod: () => startPeapod({ cniConfDir: netP.confDir, nodeFlags }),
      containerd: () => startContainerd({ cniConfDir: netC.confDir, registryHost: reg.host, sandboxImage: pause }),
    };
    for (const name of ['peapod', 'containerd'] as const) {
      if (only && only !== name) continue;
      log(`starting ${name}`);
      const rt = await starters[name]();
      try {
        await rt.client.image.PullImage({ image: { image } });
        if (name === 'containerd') await rt.client.image.PullImage({ image: { image: pause } });
        results[name] = await measure(rt, p, ctxBase, large);
      } finally {
        log(`stopping ${name}`);
        await rt.stop();
      }
    }
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log(`cleanup: ${(err as Error).message}`);
      }
    }
  }

  const table = formatTable(rows(p, results));
  const versions = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args).toString().split('\n')[0].trim();
    } catch {
      return 'unknown';
    }
  };
  const report = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    params: p,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memBytes: os.totalmem(), kernel: os.release(), node: process.version },
    versions: {
      peapod: results.peapod?.version,
      containerd: versions('/usr/bin/containerd', ['--version']),
      runc: versions('/usr/sbin/runc', ['--version']),
      conmon: versions('/usr/bin/conmon', ['--version']),
    },
    serverNodeFlags: nodeFlags,
    memory: { peapod: results.peapod?.memory, containerd: results.containerd?.memory },
    table: rows(p, results),
    samples: { peapod: results.peapod?.series, containerd: results.containerd?.series },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\npeapod vs containerd ${report.versions.containerd} (${report.mode} mode; ${p.warmup} warm-up runs; times: median / p95)\n\n${table}\n\n`);
  for (const rt of ['peapod', 'containerd'] as const) {
    const m = results[rt]?.memory;
    if (m) process.stdout.write(`${rt}: ${m.monitors} monitor processes for ${p.densityPods} containers, ${(m.monitorPssTotal / 1048576).toFixed(1)} MiB PSS in all\n`);
  }
  log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
