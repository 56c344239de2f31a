#!/usr/bin/env node
/**
 * `npm run critest`: runs the cri-tools critest suite (v1.26.1) offline
 * against peapod-cri.
 *
 *  1. finds `critest` ($CRITEST, --critest or PATH);
 *  2. builds stand-ins for every image critest pulls (scripts/critest/images.ts)
 *     and pushes them to Debian's docker-registry on 127.0.0.1 under
 *     `<upstream registry>/<path>`;
 *  3. writes a registries.conf.d drop-in mapping registry.k8s.io, gcr.io and
 *     public.ecr.aws onto that registry, a CNI network of its own and a
 *     peapod config, and starts peapod-cri with temp root/runroot;
 *  4. runs critest with a Ginkgo JSON report, skipping only the specs listed
 *     in scripts/critest/offline-specs.ts, and prints every spec's result,
 *     a summary line and the wall time;
 *  5. stops and removes everything it started, also on failure or Ctrl-C.
 *
 * Exit status: 0 when no spec failed, 1 when one did, 2 when the run could not start.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { CONFIG_SCHEMA } from '../../src/server/config-schema';
import { startRegistry, TestRegistry } from '../../test/integration/harness/registry';
import { benchmarkParamsYaml } from './benchmark-params';
import { critestArgs } from './critest-args';
import { findBusybox } from './busybox';
import { removeCriLeftovers, removeLink, removeRuncLeftovers, removeTree } from './cleanup';
import { hostProblems } from './host-checks';
import { buildFixtures, pushFixtures } from './images';
import { formatOfflineList, offlineSkipRegex, OFFLINE_SPECS } from './offline-specs';
import { PeapodProcess, startPeapod } from './peapod-process';
import { buildPrograms } from './programs';
import { registriesDropIn } from './registries';
import { failureClasses, formatResults, formatSummary, parseGinkgoJsonReport, parseGinkgoTextSummary, SpecResult, summarize } from './report';
import { cniConflist, peapodConfigToml, randomSubnet, subnetsInUse } from './runtime-config';

/** The critest release this runner targets. */
export const CRITEST_VERSION = '1.26.1';
/** Where critest releases are published. */
export const CRITEST_RELEASES_URL = 'https://github.com/kubernetes-sigs/cri-tools/releases';
/** The repository root (critest.yaml lives there). */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

interface Options {
  focus: string[];
  skip: string[];
  benchmark?: boolean;
  critest?: string;
  keep?: boolean;
  reportDir?: string;
  logLevel: string;
  verbose?: boolean;
}

function say(msg: string): void {
  process.stdout.write(`[critest-runner] ${msg}\n`);
}

/** The critest binary: --critest, $CRITEST, or the first `critest` on PATH. */
function findCritest(explicit?: string): string | undefined {
  const candidate = explicit ?? process.env.CRITEST;
  if (candidate) return fs.existsSync(candidate) ? candidate : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir || '.', 'critest');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Everything a run started, for teardown. */
interface Started {
  workDir?: string;
  registry?: TestRegistry;
  peapod?: PeapodProcess;
  critest?: ChildProcess;
  bridge?: string;
  runcRoot?: string;
}

async function teardown(s: Started, keep: boolean): Promise<void> {
  if (s.critest && s.critest.exitCode === null && s.critest.signalCode === null) s.critest.kill('SIGKILL');
  if (s.peapod) {
    const died = s.peapod.child.exitCode ?? s.peapod.child.signalCode;
    if (died !== null) say(`peapod-cri had exited during the run (${died}); see ${s.peapod.logFile}`);
    if (s.peapod.child.exitCode === null && s.peapod.child.signalCode === null) {
      const left = await removeCriLeftovers(s.peapod.client);
      if (left.containers || left.pods) say(`removed leftovers: ${left.containers} container(s), ${left.pods} pod(s)`);
    }
    const code = await s.peapod.stop();
    say(`peapod-cri stopped (exit ${code})`);
  }
  if (s.runcRoot) {
    const ids = removeRuncLeftovers(s.runcRoot);
    if (ids.length) say(`runc leftovers force-deleted: ${ids.join(', ')}`);
  }
  if (s.registry) await s.registry.stop();
  if (s.bridge) removeLink(s.bridge);
  if (s.workDir && !keep) {
    const stuck = removeTree(s.workDir);
    if (stuck.length) say(`could not unmount ${stuck.length} mount(s) under ${s.workDir}; left it in place: ${stuck.slice(0, 5).join(', ')}`);
  } else if (s.workDir) {
    say(`kept the work directory ${s.workDir}`);
  }
}

async function run(opts: Options): Promise<number> {
  const wallStart = Date.now();
  const critest = findCritest(opts.critest);
  if (!critest) {
    process.stderr.write(
      `critest not found (looked at --critest, $CRITEST and PATH).\n` +
        `Install critest v${CRITEST_VERSION} from the cri-tools releases: ${CRITEST_RELEASES_URL}\n` +
        `(the critest-v${CRITEST_VERSION}-linux-<arch>.tar.gz asset), put it on PATH or set CRITEST=/path/to/critest.\n`,
    );
    return 2;
  }
  const version = (spawnSync(critest, ['--version'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0].trim();
  say(`critest: ${critest} (${version || 'version unknown'})`);
  if (!version.includes(CRITEST_VERSION)) say(`warning: this runner targets critest v${CRITEST_VERSION}; the stand-in images match that version's specs`);

  for (const p of await hostProblems()) say(`host warning: ${p}`);
  if (!opts.benchmark) process.stdout.write(formatOfflineList());

  const started: Started = {};
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted++;
    if (started.critest && started.critest.exitCode === null) {
      say(`${sig}: ${interrupted > 1 ? 'killing' : 'interrupting'} critest, then cleaning up`);
      started.critest.kill(interrupted > 1 ? 'SIGKILL' : 'SIGINT');
    } else {
      say(`${sig}: stopping after the current step, then cleaning up`);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkInterrupt = (): void => {
    if (interrupted) throw new Error('interrupted');
  };

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-critest-'));
  started.workDir = workDir;
  const reportDir = path.resolve(opts.reportDir ?? path.join(os.tmpdir(), `peapod-critest-report-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  fs.mkdirSync(reportDir, { recursive: true });
  let exitCode = 2;
  try {
    // -- images
    const t0 = Date.now();
    const programs = buildPrograms(path.join(workDir, 'programs'));
    const busybox = findBusybox((m) => say(`warning: ${m}`));
    say(`busybox for the images: ${busybox.binary}${busybox.libraries.length ? ` (+${busybox.libraries.length} libraries)` : ' (static)'}`);
    // No pause image: a pod sharing a PID namespace runs peapod's own pause program (native/pause.c).
    const fixtures = await buildFixtures({ busybox, programs, benchmark: opts.benchmark });
    checkInterrupt();
    started.registry = await startRegistry();
    await pushFixtures(started.registry.url, fixtures);
    const refs = fixtures.reduce((n, f) => n + f.refs.length, 0);
    say(`pushed ${fixtures.length} stand-in images under ${refs} names to ${started.registry.host} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    checkInterrupt();

    // -- peapod-cri
    const criDir = path.join(workDir, 'cri');
    const confDir = path.join(criDir, 'peapod.conf.d');
    const regDir = path.join(workDir, 'registries.conf.d');
    const cniDir = path.join(workDir, 'cni');
    for (const d of [confDir, regDir, cniDir]) fs.mkdirSync(d, { recursive: true });
    const registriesConf = path.join(workDir, 'registries.conf');
    fs.writeFileSync(registriesConf, '# empty: the mappings are in the drop-in directory\n');
    fs.writeFileSync(path.join(regDir, '50-critest.conf'), registriesDropIn(started.registry.host));
    const suffix = crypto.randomBytes(3).toString('hex');
    const bridge = `ppct${suffix}`;
    const subnet = randomSubnet(Math.random, subnetsInUse(spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? ''));
    started.bridge = bridge;
    fs.writeFileSync(
      path.join(cniDir, '10-peapod-critest.conflist'),
      cniConflist({ name: `peapod-critest-${suffix}`, bridge, subnet, ipamDataDir: path.join(workDir, 'cni-ipam') }),
    );
    const root = path.join(criDir, 'root');
    const runroot = path.join(criDir, 'runroot');
    started.runcRoot = path.join(runroot, 'runc');
    const wanted: Record<string, string> = {
      'network.cni_conf_dir': cniDir,
      'image.registries_conf': registriesConf,
      'image.registries_conf_dir': regDir,
    };
    // runc's state lives in peapod's default `<runroot>/runc`, inside the work directory.
    const { toml, missing } = peapodConfigToml(CONFIG_SCHEMA, wanted);
    for (const k of missing) {
      say(`warning: peapod's config has no key ${k} yet; ${k.startsWith('image.') ? 'images cannot be mapped to the local registry, so pulls will fail offline' : 'left at its default'}`);
    }
    const configFile = path.join(criDir, 'peapod.conf');
    fs.writeFileSync(configFile, toml);
    const socket = path.join(criDir, 'peapod.sock');
    started.peapod = await startPeapod({ configFile, configDir: confDir, socket, root, runroot, logFile: path.join(reportDir, 'peapod-cri.log'), logLevel: opts.logLevel });
    say(`peapod-cri serving on unix://${socket} (CNI bridge ${bridge}, pods in ${subnet}); log ${started.peapod.logFile}`);
    checkInterrupt();

    // -- critest
    const jsonReport = path.join(reportDir, 'critest-report.json');
    const outputLog = path.join(reportDir, 'critest-output.log');
    const offline = opts.benchmark ? [] : OFFLINE_SPECS;
    const offlineSkip = offlineSkipRegex(offline);
    let benchmark: { paramsFile: string; outputDir: string } | undefined;
    if (opts.benchmark) {
      benchmark = { paramsFile: path.join(workDir, 'benchmark-params.yaml'), outputDir: path.join(reportDir, 'benchmark') };
      fs.writeFileSync(benchmark.paramsFile, benchmarkParamsYaml());
      fs.mkdirSync(benchmark.outputDir, { recursive: true });
    }
    const args = critestArgs({
      socket,
      testImagesFile: path.join(REPO_ROOT, 'critest.yaml'),
      jsonReport,
      logDir: reportDir,
      focus: opts.focus,
      skip: [...(offlineSkip ? [offlineSkip] : []), ...opts.skip],
      verbose: opts.verbose,
      benchmark,
    });
    say(`running: ${critest} ${args.join(' ')}`);
    say(`critest output: ${outputLog}`);
    const out = fs.openSync(outputLog, 'w');
    const suiteStart = Date.now();
    const child = spawn(critest, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.critest = child;
    const tee = (d: Buffer): void => {
      fs.writeSync(out, d);
      if (opts.verbose) process.stdout.write(d);
    };
    child.stdout!.on('data', tee);
    child.stderr!.on('data', tee);
    const heartbeat = opts.verbose
      ? undefined
      : setInterval(() => say(`critest running for ${Math.round((Date.now() - suiteStart) / 1000)} s…`), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    if (heartbeat) clearInterval(heartbeat);
    fs.closeSync(out);
    const suiteSeconds = (Date.now() - suiteStart) / 1000;

    // -- results
    let results: SpecResult[] = [];
    let suiteRunTime = suiteSeconds;
    if (fs.existsSync(jsonReport)) {
      const parsed = parseGinkgoJsonReport(fs.readFileSync(jsonReport, 'utf8'), offline);
      results = parsed.results;
      suiteRunTime = parsed.suiteRunTime || suiteSeconds;
      if (opts.focus.length) {
        for (const r of results) {
          if (r.outcome === 'offline' && !opts.focus.some((f) => new RegExp(f).test(r.name))) r.outcome = 'skipped';
        }
      }
      // With a focus or in benchmark mode most specs are skipped on purpose: list them only with --verbose.
      const hideSkipped = (opts.focus.length > 0 || opts.benchmark) && !opts.verbose;
      const shown = hideSkipped ? results.filter((r) => r.outcome !== 'skipped') : results;
      process.stdout.write('\n' + formatResults(shown));
      if (shown.length < results.length) say(`${results.length - shown.length} skipped specs (${opts.benchmark ? 'not benchmarks' : 'outside the focus'}) are not listed; --verbose lists them`);
      const classes = failureClasses(results);
      if (classes.length) {
        process.stdout.write('\nfailures by cause:\n');
        for (const [cls, n] of classes.slice(0, 15)) process.stdout.write(`  ${String(n).padStart(3)} × ${cls}\n`);
        if (classes.length > 15) process.stdout.write(`  … and ${classes.length - 15} more causes\n`);
      }
      const summary = summarize(results, suiteRunTime);
      process.stdout.write(`\n${formatSummary(summary, (Date.now() - wallStart) / 1000)}\n`);
      say(`critest exit ${code}; suite wall time ${suiteSeconds.toFixed(1)} s; report ${jsonReport}`);
      exitCode = summary.failed === 0 && code === 0 ? 0 : 1;
    } else {
      const output = fs.readFileSync(outputLog, 'utf8');
      const text = parseGinkgoTextSummary(output);
      if (/^panic: /m.test(output)) say(`critest crashed with a Go panic (see ${outputLog}); it wrote no report`);
      if (text) {
        process.stdout.write(
          `\ncritest: ${text.passed} passed, ${text.failed} failed, ${text.skipped} skipped (${text.total} specs; no JSON report, counts from the text output); suite ${text.seconds.toFixed(1)} s\n`,
        );
      } else {
        process.stdout.write(`\ncritest: no result (exit ${code}, no report); see ${outputLog}\n`);
      }
      say(`suite wall time ${suiteSeconds.toFixed(1)} s`);
      exitCode = 1;
    }
    if (opts.benchmark) {
      const benchOut = path.join(reportDir, 'benchmark');
      const files = fs.existsSync(benchOut) ? fs.readdirSync(benchOut) : [];
      say(`benchmark data (${files.length} file(s)) in ${benchOut}${files.length ? ': ' + files.join(', ') : ''}`);
    }
    if (interrupted) {
      say('interrupted: the results above are partial');
      exitCode = 1;
    }
  } catch (err) {
    process.stderr.write(`[critest-runner] ${interrupted ? 'interrupted' : 'error'}: ${(err as Error).message}\n`);
    exitCode = interrupted ? 1 : 2;
  } finally {
    try {
      await teardown(started, opts.keep ?? false);
    } catch (err) {
      process.stderr.write(`[critest-runner] teardown error: ${(err as Error).message}\n`);
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  say(`reports and logs: ${reportDir}`);
  say(`wall time ${((Date.now() - wallStart) / 1000).toFixed(1)} s`);
  return exitCode;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('critest-runner')
    .description(`Run the cri-tools critest suite (v${CRITEST_VERSION}) offline against peapod-cri.`)
    .option('--focus <regex>', 'run only the specs matching this regular expression (ginkgo focus; repeatable)', collect, [])
    .option('--skip <regex>', 'also skip the specs matching this regular expression (repeatable)', collect, [])
    .option('--benchmark', "run critest's benchmark mode with small sizes instead of the validation suite")
    .option('--critest <path>', 'critest binary (default: $CRITEST, then PATH)')
    .option('--report-dir <dir>', 'where to write the JSON report and the logs (default: a new directory under the temp dir)')
    .option('--log-level <level>', "peapod-cri's log level", 'info')
    .option('--keep', 'keep the work directory (images, peapod root, configs) for inspection')
    .option('-v, --verbose', "stream critest's output (ginkgo -v) and list skipped specs")
    .showHelpAfterError();
  program.parse(argv);
  return run(program.opts<Options>());
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[critest-runner] ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  },
);
