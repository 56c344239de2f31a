/**
 * ExecSync's cost, for two builds of peapod-cri side by side: what holds on
 * a loaded machine where wall times do not. Both servers run at once, each
 * with one running container, and are measured in alternating rounds
 * (A B, B A, ...). Per round and build:
 * - serial ExecSync of `true` (`--calls` calls): the server's CPU time per
 *   call, of its main thread alone (what every other RPC waits for) and of
 *   all its threads (/proc/PID/task/TID/schedstat, ns); the spawn server
 *   helper's own CPU and that of the processes it reaped (runc, runc init,
 *   the exec'd process: /proc/HELPER/stat utime+stime and cutime+cstime,
 *   ticks); the wall median;
 * - Version one call at a time (`--versions` calls) while 20 ExecSync of
 *   `true` run at once: its median and p95 (the event loop's health under
 *   exec load, as `npm run bench` measures it), and the main thread's CPU
 *   per ExecSync completed meanwhile.
 *
 *   npm run build && node dist/bench/exec-cpu.js --against /tmp/base/dist/src/server/main.js [--calls 200] [--rounds 4]
 *   node dist/bench/exec-cpu.js --server-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
 */
import { Command } from 'commander';
import * as os from 'node:os';
import type { RuntimeUnderTest } from './runtime';
import { median, processCpu, roundOrder, roundsTable, runBench, serverCpu, spawnerHelperPid, withTwoBuilds } from './two-builds';
import { containerConfig, now, podConfig, SLEEP } from './workloads';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** One server under test and its container. */
interface Subject {
  label: string;
  rt: RuntimeUnderTest;
  ctr: string;
  helper: number;
}

/** One round's figures for one build. */
interface Round {
  mainMs: number;
  allMs: number;
  helperMs: number;
  reapedMs: number;
  wall: number;
  versionMedian: number;
  versionP95: number;
  mainMsUnderLoad: number;
}

async function exec(s: Subject, timeout = 10): Promise<void> {
  const r = await s.rt.client.runtime.ExecSync({ container_id: s.ctr, cmd: ['true'], timeout });
  if (r.exit_code !== 0) throw new Error(`${s.label}: ExecSync true exited ${r.exit_code}: ${r.stderr.toString()}`);
}

async function measure(s: Subject, calls: number, versions: number): Promise<Round> {
  for (let i = 0; i < 10; i++) await exec(s);
  const walls: number[] = [];
  const c0 = serverCpu(s.rt.serverPid());
  const h0 = processCpu(s.helper);
  for (let i = 0; i < calls; i++) {
    const t0 = now();
    await exec(s);
    walls.push(now() - t0);
  }
  const c1 = serverCpu(s.rt.serverPid());
  const h1 = processCpu(s.helper);
  let stop = false;
  let done = 0;
  const loops = Array.from({ length: 20 }, async () => {
    while (!stop) {
      await exec(s, 30);
      done++;
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const l0 = serverCpu(s.rt.serverPid());
  const d0 = done;
  const vs: number[] = [];
  for (let i = 0; i < versions; i++) {
    const t0 = now();
    await s.rt.client.runtime.Version({});
    vs.push(now() - t0);
  }
  const l1 = serverCpu(s.rt.serverPid());
  const d1 = done;
  stop = true;
  await Promise.all(loops);
  return {
    mainMs: (c1.main - c0.main) / calls,
    allMs: (c1.all - c0.all) / calls,
    helperMs: (h1.self - h0.self) / calls,
    reapedMs: (h1.children - h0.children) / calls,
    wall: median(walls),
    versionMedian: median(vs),
    versionP95: quantile(vs, 0.95),
    mainMsUnderLoad: (l1.main - l0.main) / Math.max(1, d1 - d0),
  };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--against <main.js>', "the other build's dist/src/server/main.js")
    .option('--calls <n>', 'serial ExecSync calls per round', (v) => parseInt(v, 10), 200)
    .option('--versions <n>', 'Version calls under load per round', (v) => parseInt(v, 10), 200)
    .option('--rounds <n>', 'alternating rounds', (v) => parseInt(v, 10), 4)
    .option('--server-node-flags <flags>', 'node flags for this build\'s peapod-cri, e.g. "--cpu-prof --cpu-prof-dir=DIR"')
    .parse(process.argv)
    .opts<{ against?: string; calls: number; versions: number; rounds: number; serverNodeFlags?: string }>();
  await withTwoBuilds({ name: 'exec-cpu', against: o.against, serverNodeFlags: o.serverNodeFlags }, async ({ builds, image, logRoot, log }) => {
    const subjects: Subject[] = [];
    for (const { label, rt } of builds) {
      await rt.client.image.PullImage({ image: { image } });
      const pc = podConfig(`exec-${label}`, logRoot);
      const podId = (await rt.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
      const { container_id: ctr } = await rt.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: containerConfig('exec', image, SLEEP), sandbox_config: pc });
      await rt.client.runtime.StartContainer({ container_id: ctr });
      subjects.push({ label, rt, ctr, helper: spawnerHelperPid(rt, label) });
    }
    const results: Record<string, Round[]> = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const s of roundOrder(subjects, round)) (results[s.label] ??= []).push(await measure(s, o.calls, o.versions));
      log(`round ${round + 1} of ${o.rounds} done`);
    }
    const labels = subjects.map((s) => s.label);
    const fields: [keyof Round, string][] = [
      ['mainMs', 'server main thread CPU ms per ExecSync (serial)'],
      ['allMs', 'server all threads CPU ms per ExecSync (serial)'],
      ['helperMs', 'spawner helper CPU ms per ExecSync'],
      ['reapedMs', 'reaped children (runc, runc init, true) CPU ms per ExecSync'],
      ['wall', 'ExecSync wall median ms (serial)'],
      ['versionMedian', 'Version median ms under 20 ExecSync'],
      ['versionP95', 'Version p95 ms under 20 ExecSync'],
      ['mainMsUnderLoad', 'server main thread CPU ms per ExecSync (20 at once)'],
    ];
    const lines = roundsTable(labels, results, fields, 3);
    process.stdout.write(`${lines.join('\n')}\n(${o.calls} serial calls and ${o.versions} Version calls per round, ${o.rounds} rounds; load ${os.loadavg()[0].toFixed(1)})\n`);
  });
}

runBench(main);
