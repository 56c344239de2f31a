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
import * as os from 'node:os';
import { largeImage, pushImage } from '../test/fixtures/image-builder';
import type { RuntimeUnderTest } from './runtime';
import { median, processCpu, roundOrder, runBench, serverCpu, withTwoBuilds } from './two-builds';
import { now } from './workloads';

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
  const a0 = processCpu(pid).self;
  const m0 = serverCpu(pid).main;
  const t0 = now();
  await s.rt.client.image.PullImage({ image: { image: ref } });
  const wallMs = now() - t0;
  return { allMs: processCpu(pid).self - a0, mainMs: serverCpu(pid).main - m0, wallMs };
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
  const toml = (t: string | undefined): string | undefined => t?.replace(/\\n/g, '\n');
  await withTwoBuilds({ name: 'pull-cpu', against: o.against, serverNodeFlags: o.serverNodeFlags, extraConfig: { this: toml(o.thisConfig), against: toml(o.againstConfig) } }, async ({ builds, registry, image: small, log }) => {
    await pushImage(registry.url, 'bench/large', 'v1', await largeImage(o.mb * 1e6, 5));
    const large = `${registry.host}/bench/large:v1`;
    const subjects: Subject[] = [];
    for (const { label, rt } of builds) {
      // Warm-up: one of each.
      await pullOnce({ label, rt }, large);
      await pullOnce({ label, rt }, small);
      subjects.push({ label, rt });
    }
    const results: Record<string, { large: Sample[]; small: Sample[] }> = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const s of roundOrder(subjects, round)) {
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
  });
}

runBench(main);
