/**
 * `npm run bench`: measures peapod-cri and containerd 1.6's CRI plugin side
 * by side, in one run on one machine, through the same CRI client, with the
 * same CNI plugins and conflist shape, the same local registry and images.
 * Prints a table (metric, peapod, containerd, ratio) and writes
 * bench/results/latest.json.
 *
 *   npm run bench                 # full sizes (about 10 minutes)
 *   npm run bench -- --quick      # small counts (about 4 minutes)
 *   npm run bench -- --server-node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof" --only peapod
 *   npm run bench -- --workloads critest   # critest's own benchmark mode against both (bench/critest.ts)
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, largeImage, pushImage } from '../test/fixtures/image-builder';
import { makeTestCniNetwork, TestCniNetwork } from '../test/integration/harness/cni-net';
import { startRegistry, TestRegistry } from '../test/integration/harness/registry';
import { benchCli, CliBenchResults } from './cli';
import { startContainerd } from './containerd';
import { benchCritest, CritestBenchResults, CRITEST_OPERATIONS } from './critest';
import { WORKER_IDLE_MS } from '../src/image-service/store/layer-workers';
import { startPeapod } from './peapod';
import { rssBytes } from './procs';
import type { RuntimeUnderTest } from './runtime';
import { makeToolWrappers, summarizeToolLog, ToolWrappers } from './tool-timing';
import { formatTable, MetricRow, Summary, summarize } from './stats';
import { benchContainer, benchDensity, benchExec, benchFirstLog, benchList, benchPull, benchSandbox, benchSmallRpcs, MemorySample, WorkloadContext } from './workloads';

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

/**
 * Milliseconds both servers rest before the RSS just before the density pods
 * is read (benchDensity): longer than peapod-cri's layer workers outlive a pull.
 */
const DENSITY_SETTLE_MS = WORKER_IDLE_MS + 2_000;

/** The workloads, in the order they run. */
const WORKLOADS = ['sandbox', 'container', 'exec', 'rpc', 'firstlog', 'pull', 'list', 'density', 'cli', 'critest'] as const;

function parseArgs(argv: string[]): { params: Params; only?: string; nodeFlags: string[]; out: string; quick: boolean; workloads: Set<string>; toolTiming?: string; peapodConfig?: string } {
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
    .option('--peapod-config <toml>', 'top-level TOML for peapod-cri\'s config file, e.g. \'log_level = "debug"\' (logs each RPC\'s duration)')
    .option('--workloads <list>', `comma-separated subset of ${WORKLOADS.join(',')} (default all)`)
    .option('--tool-timing <dir>', 'run runc, conmon and the CNI plugins through timing wrappers made in DIR and summarize DIR/tools.log per runtime (adds ~2 ms per call: for attribution, not for the table)')
    .option('--out <file>', 'where to write the JSON results', path.resolve(__dirname, '..', '..', 'bench', 'results', 'latest.json'))
    .parse(argv);
  const o = cmd.opts<{ quick?: boolean; runs?: number; warmup?: number; pullRuns?: number; pullMb?: number; listPods?: number; densityPods?: number; concurrency?: number; only?: string; serverNodeFlags?: string; out: string; workloads?: string; toolTiming?: string; peapodConfig?: string }>();
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
  const workloads = o.workloads ? o.workloads.split(',') : [...WORKLOADS];
  for (const w of workloads) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w}; known: ${WORKLOADS.join(',')}`);
  return { params, only: o.only, nodeFlags: flags, out: o.out, quick, workloads: new Set(workloads), toolTiming: o.toolTiming ? path.resolve(o.toolTiming) : undefined, peapodConfig: o.peapodConfig };
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

/**
 * Runs every selected workload against each runtime in turn (peapod, then
 * containerd, workload by workload), so both see the same machine load over
 * time; both servers stay up, the idle one costs next to nothing.
 */
async function measureAll(rts: RuntimeUnderTest[], p: Params, ctxBase: Omit<WorkloadContext, 'progress'>, large: { ref: string; bytes: number }, workloads: Set<string>, startRss: Partial<Record<'peapod' | 'containerd', number>>): Promise<Partial<Record<'peapod' | 'containerd', RuntimeResults>>> {
  const results: Partial<Record<'peapod' | 'containerd', RuntimeResults>> = {};
  for (const rt of rts) results[rt.name] = { version: (await rt.client.runtime.Version({})).runtime_version, series: {} };
  const steps: [string, (rt: RuntimeUnderTest, ctx: WorkloadContext, r: RuntimeResults) => Promise<void>][] = [
    ['sandbox', async (rt, ctx, r) => void Object.assign(r.series, await benchSandbox(rt, ctx))],
    ['container', async (rt, ctx, r) => void Object.assign(r.series, await benchContainer(rt, ctx))],
    ['exec', async (rt, ctx, r) => void Object.assign(r.series, await benchExec(rt, ctx))],
    ['rpc', async (rt, ctx, r) => void Object.assign(r.series, await benchSmallRpcs(rt, ctx))],
    ['firstlog', async (rt, ctx, r) => void Object.assign(r.series, await benchFirstLog(rt, ctx))],
    ['pull', async (rt, ctx, r) => void Object.assign(r.series, await benchPull(rt, ctx, large.ref, large.bytes, p.pullRuns))],
    ['list', async (rt, ctx, r) => void Object.assign(r.series, await benchList(rt, ctx, p.listPods))],
    [
      'density',
      async (rt, ctx, r) => {
        const d = await benchDensity(rt, ctx, p.densityPods, p.concurrency, startRss[rt.name] ?? 0, DENSITY_SETTLE_MS);
        r.memory = d.memory;
        r.densitySeconds = d.seconds;
      },
    ],
  ];
  for (const [name, step] of steps) {
    if (!workloads.has(name)) continue;
    for (const rt of rts) await step(rt, { ...ctxBase, progress: (m) => log(`${rt.name}: ${m}`) }, results[rt.name]!);
  }
  return results;
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
    series('Version, alone (ms)', 'versionIdle', 5 * p.runs),
    series('Version while 20 ExecSync run at once (ms)', 'versionUnderExec', 5 * p.runs),
    series('PodSandboxStatus (ms; per run the median of 5 calls)', 'podStatus', p.runs),
    series('ContainerStatus (ms; per run the median of 5 calls)', 'containerStatus', p.runs),
    series('ImageStatus (ms; per run the median of 5 calls)', 'imageStatus', p.runs),
    series('ListImages (ms; per run the median of 5 calls)', 'listImages', p.runs),
    series('RemoveContainer of a stopped container (ms)', 'removeContainer', p.runs),
    series('RunPodSandbox to first log line (ms)', 'firstLog', p.runs),
    series(`PullImage ${p.pullMB} MB, 5 layers (s)`, 'pullSeconds', p.pullRuns),
    series(`PullImage ${p.pullMB} MB, 5 layers (MB/s)`, 'pullMBps', p.pullRuns, true),
    series(`ListContainers, ${p.listPods} pods x 2 containers (ms)`, 'listContainers', p.runs),
    series(`ListPodSandbox, ${p.listPods} pods (ms)`, 'listPods', p.runs),
    { metric: `Density: start ${p.densityPods} pods x 1 container, ${p.concurrency} at a time (s)`, runs: 1, peapod: one(res.peapod?.densitySeconds), containerd: one(res.containerd?.densitySeconds) },
    { metric: 'Server RSS at its start, no pods, before any pull (MiB)', runs: 1, peapod: one(mem(res.peapod, 'serverRssNoPods', MiB)), containerd: one(mem(res.containerd, 'serverRssNoPods', MiB)) },
    { metric: `Server RSS added per running pod, (${p.densityPods} pods - just before) / ${p.densityPods} (MiB)`, runs: 1, peapod: one(mem(res.peapod, 'serverRssPerPod', MiB)), containerd: one(mem(res.containerd, 'serverRssPerPod', MiB)) },
    { metric: `Server RSS, ${p.densityPods} pods running (MiB)`, runs: 1, peapod: one(mem(res.peapod, 'serverRss', MiB)), containerd: one(mem(res.containerd, 'serverRss', MiB)) },
    { metric: `Monitor PSS per container, ${p.densityPods} running (MiB)`, runs: 1, peapod: one(mem(res.peapod, 'monitorPssPerContainer', MiB)), containerd: one(mem(res.containerd, 'monitorPssPerContainer', MiB)) },
  ];
}

/** The CLI section's rows: peapod's CLI in the peapod column, podman's in the other. */
function cliRows(p: Params, c: CliBenchResults): MetricRow[] {
  const s = (v: number[] | undefined): Summary | undefined => (v && v.length ? summarize(v) : undefined);
  const row = (metric: string, key: string): MetricRow => ({ metric, runs: p.runs, peapod: s(c.peapod[key]), containerd: s(c.podman[key]) });
  return [
    { metric: 'bare `node -e 0` start (ms), for reference', runs: p.runs, peapod: s(c.nodeStart) },
    ...(c.nodeStartNoExtraCa ? [{ metric: 'bare `node -e 0` without NODE_EXTRA_CA_CERTS (ms), for reference', runs: p.runs, peapod: s(c.nodeStartNoExtraCa) }] : []),
    row('`version` (ms)', 'version'),
    row('`images`, 1 image stored (ms)', 'images'),
    row('`pull -q` busybox (1 layer, ~1 MB) into an empty store (ms)', 'pull'),
    row('`run --rm --network none IMG true` (ms)', 'runNone'),
    row('`run --rm IMG true`, bridge network (ms)', 'runBridge'),
    row('`exec CTR true` (ms)', 'exec'),
    row('`ps`, 1 container running (ms)', 'ps'),
    row('`pod create --network none` + `pod rm` (ms, both processes)', 'podCreateRm'),
    row('`pod ps`, 1 pod (ms)', 'podPs'),
    row('`system df` (ms)', 'systemDf'),
    row('rootless (as pprootless): `run --rm` busybox `true`, image stored (ms)', 'rootlessRun'),
  ];
}

/** The critest section's rows: each operation critest measured, as critest measured it. */
function critestRows(c: CritestBenchResults): MetricRow[] {
  const s = (v: number[] | undefined): Summary | undefined => (v && v.length ? summarize(v) : undefined);
  return CRITEST_OPERATIONS.map((op) => {
    const p = s(c.samples.peapod?.[op.key]);
    const d = s(c.samples.containerd?.[op.key]);
    return { metric: op.metric, runs: Math.max(p?.n ?? 0, d?.n ?? 0), peapod: p, containerd: d };
  });
}

function mem(r: RuntimeResults | undefined, key: 'serverRss' | 'serverRssNoPods' | 'serverRssPerPod' | 'monitorPssPerContainer', unit: number): number | undefined {
  return r?.memory ? r.memory[key] / unit : undefined;
}

async function main(): Promise<void> {
  const { params: p, only, nodeFlags, out, quick, workloads, toolTiming, peapodConfig } = parseArgs(process.argv);
  const toolTimes: Partial<Record<'peapod' | 'containerd', Record<string, { calls: number; ms: number }>>> = {};
  log(`sizes: ${JSON.stringify(p)}${quick ? ' (quick)' : ''}`);
  const cleanups: (() => Promise<void> | void)[] = [];
  const results: Partial<Record<'peapod' | 'containerd', RuntimeResults>> = {};
  let cli: CliBenchResults | undefined;
  let critest: CritestBenchResults | undefined;
  const criWorkloads = new Set([...workloads].filter((w) => w !== 'cli' && w !== 'critest'));
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
    const big = await largeImage(workloads.has('pull') ? p.pullMB * 1e6 : 1e6, 5);
    await pushImage(reg.url, 'bench/large', 'v1', big);
    const bigBytes = big.layers.reduce((a, l) => a + l.size, 0) + big.config.length + big.manifest.length;
    const image = `${reg.host}/bench/busybox:v1`;
    const pause = `${reg.host}/bench/pause:v1`;
    const ctxBase = { image, logRoot, warmup: p.warmup, runs: p.runs };
    const large = { ref: `${reg.host}/bench/large:v1`, bytes: bigBytes };

    const starters: Record<'peapod' | 'containerd', () => Promise<RuntimeUnderTest>> = {
      peapod: () => startPeapod({ cniConfDir: netP.confDir, nodeFlags, extraConfig: peapodConfig, toolDir: toolTiming && path.join(toolTiming, 'peapod') }),
      containerd: () => startContainerd({ cniConfDir: netC.confDir, registryHost: reg.host, sandboxImage: pause, toolDir: toolTiming && path.join(toolTiming, 'containerd') }),
    };
    const rts: RuntimeUnderTest[] = [];
    const startRss: Partial<Record<'peapod' | 'containerd', number>> = {};
    const wrappers: Partial<Record<'peapod' | 'containerd', ToolWrappers>> = {};
    if (workloads.has('cli')) cli = await benchCli(image, p.runs, p.warmup, log);
    try {
      for (const name of ['peapod', 'containerd'] as const) {
        if (criWorkloads.size === 0) break;
        if (only && only !== name) continue;
        if (toolTiming) wrappers[name] = makeToolWrappers(path.join(toolTiming, name));
        log(`starting ${name}`);
        const rt = await starters[name]();
        rts.push(rt);
        // Its memory as started, answering (Version), before its setup pulls: no pods, no image
        // fetched yet (a pull leaves peapod-cri's layer worker threads alive for 15 s).
        await rt.client.runtime.Version({});
        startRss[name] = rssBytes(rt.serverPid());
        await rt.client.image.PullImage({ image: { image } });
        if (name === 'containerd') await rt.client.image.PullImage({ image: { image: pause } });
      }
      if (criWorkloads.size > 0) Object.assign(results, await measureAll(rts, p, ctxBase, large, criWorkloads, startRss));
    } catch (err) {
      log(`failed: ${(err as Error).stack ?? String(err)}`);
      throw err;
    } finally {
      for (const rt of rts) {
        log(`stopping ${rt.name}`);
        await rt.stop();
        const w = wrappers[rt.name];
        if (w) toolTimes[rt.name] = summarizeToolLog(fs.readFileSync(w.logFile, 'utf8'));
      }
    }
    if (workloads.has('critest')) {
      // Fresh servers of its own (critest wants to be the only user), after the others are stopped.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bench-critest-'));
      if (!process.env.PEAPOD_BENCH_KEEP) cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      critest = await benchCritest(
        reg,
        {
          peapod: (regDir, regConf) =>
            startPeapod({ cniConfDir: netP.confDir, nodeFlags, extraConfig: `${peapodConfig ?? ''}\n[image]\nregistries_conf = "${regConf}"\nregistries_conf_dir = "${regDir}"\n` }),
          containerd: (upstreams, pauseImage) => startContainerd({ cniConfDir: netC.confDir, registryHost: reg.host, sandboxImage: pauseImage, upstreamMirrors: upstreams }),
        },
        dir,
        quick ? 5 : 10,
        // Full mode: A B B A, so a change in the machine's load during the runs falls on both.
        only === 'peapod' || only === 'containerd' ? [only] : quick ? ['peapod', 'containerd'] : ['peapod', 'containerd', 'containerd', 'peapod'],
        log,
      );
      if (critest.skipped) log(`critest: not measured: ${critest.skipped}`);
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

  const table = criWorkloads.size > 0 ? formatTable(rows(p, results)) : '';
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
    workloads: [...workloads],
    toolTimes: toolTiming ? toolTimes : undefined,
    memory: { peapod: results.peapod?.memory, containerd: results.containerd?.memory },
    table: rows(p, results),
    samples: { peapod: results.peapod?.series, containerd: results.containerd?.series },
    critest: critest && { version: critest.critestVersion, skipped: critest.skipped, exitCodes: critest.exitCodes, table: critestRows(critest), samples: critest.samples },
    cli: cli && { podmanVersion: cli.podmanVersion, podmanSkipped: cli.podmanSkipped, rootlessSkipped: cli.rootlessSkipped, rootlessPodmanSkipped: cli.rootlessPodmanSkipped, table: cliRows(p, cli), samples: { node: cli.nodeStart, nodeNoExtraCa: cli.nodeStartNoExtraCa, peapod: cli.peapod, podman: cli.podman } },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (table) process.stdout.write(`\npeapod vs ${report.versions.containerd} (${report.mode} mode; warm-up runs: ${p.warmup}; times: median / p95)\n\n${table}\n\n`);
  if (cli) {
    process.stdout.write(`\npeapod CLI vs podman ${cli.podmanVersion ?? `(not measured: ${cli.podmanSkipped})`} (warm-up runs: ${p.warmup}; wall time of each process: median / p95)\n\n${formatTable(cliRows(p, cli), 'podman')}\n\n`);
    const node = summarize(cli.nodeStart).median;
    if (cli.rootlessSkipped || cli.rootlessPodmanSkipped) process.stdout.write(`rootless rows: ${cli.rootlessSkipped ?? cli.rootlessPodmanSkipped}\n`);
    for (const k of ['version', 'images', 'ps', 'podPs']) if (cli.peapod[k]?.length) process.stdout.write(`peapod ${k}: ${(summarize(cli.peapod[k]).median - node).toFixed(1)} ms over a bare node start (median)\n`);
  }
  if (critest && !critest.skipped) {
    process.stdout.write(`\ncritest's benchmark mode (${critest.critestVersion ?? 'critest'}; gRPC call durations as critest measures them; a fresh server each; median / p95)\n\n${formatTable(critestRows(critest))}\n\n`);
  }
  for (const rt of ['peapod', 'containerd'] as const) {
    const m = results[rt]?.memory;
    if (m) process.stdout.write(`${rt}: ${m.monitors} monitor processes for ${p.densityPods} containers, ${(m.monitorPssTotal / 1048576).toFixed(1)} MiB PSS in all\n`);
  }
  for (const [rt, t] of Object.entries(toolTimes)) {
    process.stdout.write(`\n${rt}: time in external tools (wrapped; whole run including set-up and teardown)\n`);
    for (const [k, v] of Object.entries(t).sort((a, b) => b[1].ms - a[1].ms)) process.stdout.write(`  ${k.padEnd(24)} ${String(v.calls).padStart(6)} calls ${v.ms.toFixed(0).padStart(8)} ms  ${(v.ms / v.calls).toFixed(1).padStart(7)} ms/call\n`);
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
