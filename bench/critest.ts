/**
 * The bench's `critest` workload: cri-tools critest's own benchmark mode
 * (`critest --benchmark`, v1.26.1) run against a fresh peapod-cri and a
 * fresh containerd in turn, on the same stand-in images from the bench's
 * local registry (scripts/critest/images.ts), and the gRPC call durations
 * critest measured, operation by operation, side by side.
 *
 * Where critest's numbers come from: its benchmark specs write
 * `<output dir>/{pod,container,image_lifecycle,image_listing}_benchmark_data.json`
 * (cri-tools pkg/benchmark/util.go LifecycleBenchmarksResultsSet: the
 * operation names and, per sample, the duration of each in ns), and the
 * end-to-end spec ("create PodSandbox and container": run pod, create and
 * start a container, stop and remove the pod) records a gmeasure
 * experiment in the Ginkgo JSON report.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestRegistry } from '../test/integration/harness/registry';
import { benchmarkParamsYaml } from '../scripts/critest/benchmark-params';
import { findBusybox } from '../scripts/critest/busybox';
import { removeCriLeftovers } from '../scripts/critest/cleanup';
import { critestArgs } from '../scripts/critest/critest-args';
import { buildFixtures, pushFixtures } from '../scripts/critest/images';
import { buildPrograms } from '../scripts/critest/programs';
import { registriesDropIn, UPSTREAM_REGISTRIES } from '../scripts/critest/registries';
import type { RuntimeUnderTest } from './runtime';

/** Where cri-tools' release tarball puts critest (the bench looks here, then on PATH). */
export const CRITEST_BIN = '/usr/local/bin/critest';
/** The pause image containerd runs as each pod's infra container (a stand-in is pushed for it). */
export const CRITEST_PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
/** The repository root (critest.yaml lives there). */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** One row of the critest section: where its samples come from in critest's output. */
export interface CritestOperation {
  /** The series key, `<file>:<operation name>` or `e2e`. */
  key: string;
  /** The table's metric name. */
  metric: string;
}

/** The operations reported, in critest's order. */
export const CRITEST_OPERATIONS: readonly CritestOperation[] = [
  { key: 'pod:CreatePod', metric: 'critest RunPodSandbox (shared PID namespace: peapod starts its pause process) (ms)' },
  { key: 'pod:StatusPod', metric: 'critest PodSandboxStatus, verbose (ms)' },
  { key: 'pod:StopPod', metric: 'critest StopPodSandbox (ms)' },
  { key: 'pod:RemovePod', metric: 'critest RemovePodSandbox (ms)' },
  { key: 'container:CreateContainer', metric: 'critest CreateContainer (ms)' },
  { key: 'container:StartContainer', metric: 'critest StartContainer (ms)' },
  { key: 'container:StatusContainer', metric: 'critest ContainerStatus (ms)' },
  { key: 'container:StopContainer', metric: 'critest StopContainer (ms)' },
  { key: 'container:RemoveContainer', metric: 'critest RemoveContainer (ms)' },
  { key: 'image_lifecycle:PullImage', metric: 'critest PullImage, small image, local registry (ms)' },
  { key: 'image_lifecycle:StatusImage', metric: 'critest ImageStatus (ms)' },
  { key: 'image_lifecycle:RemoveImage', metric: 'critest RemoveImage (ms)' },
  { key: 'image_listing:ListImages', metric: 'critest ListImages (ms)' },
  { key: 'e2e', metric: 'critest run pod + create + start container + stop + remove pod, end to end (ms)' },
];

/** The benchmark data files critest writes, by the key prefix used above. */
const DATA_FILES = ['pod', 'container', 'image_lifecycle', 'image_listing'] as const;

/**
 * The samples of one `*_benchmark_data.json` (LifecycleBenchmarksResultsSet):
 * per operation name, each datapoint's duration in ms.
 * @throws Error when the text is not such a results set
 */
export function parseLifecycleResults(json: string): Record<string, number[]> {
  const data = JSON.parse(json) as { operationsNames?: unknown; datapoints?: unknown };
  if (!Array.isArray(data.operationsNames) || !Array.isArray(data.datapoints)) throw new Error('not a critest benchmark results set: no operationsNames/datapoints');
  const names = data.operationsNames.map(String);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  for (const d of data.datapoints as { operationsDurationsNs?: unknown }[]) {
    const ns = Array.isArray(d.operationsDurationsNs) ? d.operationsDurationsNs : [];
    names.forEach((n, i) => {
      const v = Number(ns[i]);
      if (Number.isFinite(v) && v > 0) out[n].push(v / 1e6);
    });
  }
  return out;
}

/**
 * The durations (ms) of the gmeasure measurement `measurement` found in the
 * report entries of a Ginkgo v2 JSON report (entry values carry the
 * experiment as JSON text in `Value.AsJSON`).
 */
export function parseExperimentDurations(reportJson: string, measurement: string): number[] {
  const suites = JSON.parse(reportJson) as { SpecReports?: { ReportEntries?: { Value?: { AsJSON?: string } }[] | null }[] | null }[];
  const out: number[] = [];
  for (const suite of Array.isArray(suites) ? suites : []) {
    for (const spec of suite.SpecReports ?? []) {
      for (const entry of spec.ReportEntries ?? []) {
        let exp: { Measurements?: { Name?: string; Durations?: number[] | null }[] | null };
        try {
          exp = JSON.parse(entry.Value?.AsJSON ?? 'null') as typeof exp;
        } catch {
          continue;
        }
        for (const m of exp?.Measurements ?? []) if (m.Name === measurement) for (const d of m.Durations ?? []) out.push(d / 1e6);
      }
    }
  }
  return out;
}

/** What the workload measured, by runtime: series keyed as CRITEST_OPERATIONS. */
export interface CritestBenchResults {
  critestVersion?: string;
  /** Why nothing was measured (no critest, no gcc, …). */
  skipped?: string;
  samples: Partial<Record<'peapod' | 'containerd', Record<string, number[]>>>;
  /** critest's exit status per runtime (0: every benchmark spec passed; with two runs, the first that was not 0). */
  exitCodes: Partial<Record<'peapod' | 'containerd', number | null>>;
}

/** How the workload starts each runtime: fresh, with critest's upstream registries mapped onto the local one. */
export interface CritestStarters {
  /** peapod-cri with `registriesConfDir` as its registries.conf.d. */
  peapod(registriesConfDir: string, registriesConf: string): Promise<RuntimeUnderTest>;
  /** containerd with the upstream mirrors and `pauseImage` as its sandbox image. */
  containerd(upstreams: readonly string[], pauseImage: string): Promise<RuntimeUnderTest>;
}

function findCritest(): string | undefined {
  if (process.env.CRITEST) return fs.existsSync(process.env.CRITEST) ? process.env.CRITEST : undefined;
  if (fs.existsSync(CRITEST_BIN)) return CRITEST_BIN;
  const r = spawnSync('sh', ['-c', 'command -v critest'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/** Runs critest to its end (killed after `timeoutMs`); output to `logFile`. */
function runCritest(bin: string, args: string[], cwd: string, logFile: string, timeoutMs: number): Promise<number | null> {
  const out = fs.openSync(logFile, 'w');
  const child = spawn(bin, args, { cwd, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/**
 * Runs critest's benchmark mode against each runtime of `order` in turn, a
 * fresh server each time (stopped before the next starts), `samples`
 * samples of each benchmark, one at a time. A runtime named twice (e.g.
 * peapod, containerd, containerd, peapod: drift in the machine's load then
 * falls on both alike) has the samples of both runs.
 * @param workDir an empty directory for programs, configs and reports (the caller removes it)
 * @returns the samples per runtime, or `skipped` with the reason
 */
export async function benchCritest(registry: TestRegistry, starters: CritestStarters, workDir: string, samples: number, order: readonly ('peapod' | 'containerd')[], log: (m: string) => void): Promise<CritestBenchResults> {
  const res: CritestBenchResults = { samples: {}, exitCodes: {} };
  const bin = findCritest();
  if (!bin) return { ...res, skipped: `critest not found (${CRITEST_BIN}, $CRITEST or PATH)` };
  res.critestVersion = (spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0].trim();
  let programs;
  try {
    programs = buildPrograms(path.join(workDir, 'programs'));
  } catch (err) {
    return { ...res, skipped: (err as Error).message };
  }
  log('critest: building and pushing the stand-in images');
  const fixtures = await buildFixtures({ busybox: findBusybox((m) => log(`critest: ${m}`)), programs, benchmark: true, pauseRef: CRITEST_PAUSE_IMAGE });
  await pushFixtures(registry.url, fixtures);
  const regDir = path.join(workDir, 'registries.conf.d');
  fs.mkdirSync(regDir, { recursive: true });
  fs.writeFileSync(path.join(regDir, '50-critest.conf'), registriesDropIn(registry.host));
  const registriesConf = path.join(workDir, 'registries.conf');
  fs.writeFileSync(registriesConf, '# empty: the mappings are in the drop-in directory\n');
  const paramsFile = path.join(workDir, 'benchmark-params.yaml');
  fs.writeFileSync(paramsFile, benchmarkParamsYaml(undefined, samples));

  for (const [round, name] of order.entries()) {
    const outDir = path.join(workDir, `${round + 1}-${name}`);
    const dataDir = path.join(outDir, 'benchmark');
    fs.mkdirSync(dataDir, { recursive: true });
    log(`critest: starting a fresh ${name}`);
    const rt = name === 'peapod' ? await starters.peapod(regDir, registriesConf) : await starters.containerd(UPSTREAM_REGISTRIES, CRITEST_PAUSE_IMAGE);
    const report = path.join(outDir, 'critest-report.json');
    let code: number | null = null;
    try {
      const args = critestArgs({ socket: rt.socket, testImagesFile: path.join(REPO_ROOT, 'critest.yaml'), jsonReport: report, logDir: outDir, benchmark: { paramsFile, outputDir: dataDir } });
      log(`critest: running its benchmarks against ${name} (${samples} samples each)`);
      code = await runCritest(bin, args, outDir, path.join(outDir, 'critest-output.log'), 15 * 60_000);
      if (!(name in res.exitCodes) || res.exitCodes[name] === 0) res.exitCodes[name] = code;
    } finally {
      // A failed spec leaves its pods behind (containerd's pause containers would outlive the server).
      const left = await removeCriLeftovers(rt.client);
      if (left.pods || left.containers) log(`critest: removed what it left on ${name}: ${left.pods} pod(s), ${left.containers} container(s)`);
      await rt.stop();
    }
    const series = (res.samples[name] ??= {});
    const add = (key: string, v: number[]): void => void (series[key] = [...(series[key] ?? []), ...v]);
    for (const file of DATA_FILES) {
      const f = path.join(dataDir, `${file}_benchmark_data.json`);
      if (!fs.existsSync(f)) continue;
      for (const [op, v] of Object.entries(parseLifecycleResults(fs.readFileSync(f, 'utf8')))) add(`${file}:${op}`, v);
    }
    if (fs.existsSync(report)) add('e2e', parseExperimentDurations(fs.readFileSync(report, 'utf8'), 'create PodSandbox and container'));
    if (code !== 0) log(`critest: exit ${code} against ${name}; see ${outDir}/critest-output.log`);
  }
  return res;
}
