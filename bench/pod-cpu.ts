/**
 * RunPodSandbox and StopPodSandbox + RemovePodSandbox, for two builds of
 * peapod-cri side by side: what holds on a loaded machine where one build's
 * wall times alone do not. Both servers run at once, each on its own CNI
 * network (the bench's shape: bridge, host-local, portmap, bandwidth), and
 * are measured in alternating rounds (A B, B A, ...). Per round and build,
 * `--pods` serial cycles of the bench's sandbox workload (a kubelet-default
 * pod: network POD, pid CONTAINER; run, then stop + remove):
 * - wall medians of RunPodSandbox and of Stop+Remove (ms);
 * - the server's CPU per cycle, of its main thread alone and of all its
 *   threads (/proc/PID/task/TID/schedstat);
 * - the spawn server helper's own CPU and that of the processes it reaped
 *   (peapod-pinns, the CNI plugins, peapod-mount: /proc/HELPER/stat utime+stime
 *   and cutime+cstime, ticks), per cycle.
 *
 *   npm run build && node dist/bench/pod-cpu.js --against /tmp/base/dist/src/server/main.js [--pods 10] [--rounds 6]
 *   node dist/bench/pod-cpu.js --server-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
 */
import { Command } from 'commander';
import * as os from 'node:os';
import type { RuntimeUnderTest } from './runtime';
import { median, processCpu, roundOrder, roundsTable, runBench, serverCpu, spawnerHelperPid, withTwoBuilds } from './two-builds';
import { now, podConfig } from './workloads';

/** One server under test. */
interface Subject {
  label: string;
  rt: RuntimeUnderTest;
  helper: number;
}

/** One round's figures for one build. */
interface Round {
  run: number;
  stopRemove: number;
  mainMs: number;
  allMs: number;
  helperMs: number;
  reapedMs: number;
}

async function measure(s: Subject, pods: number, logRoot: string, round: number): Promise<Round> {
  const runs: number[] = [];
  const stops: number[] = [];
  const c0 = serverCpu(s.rt.serverPid());
  const h0 = processCpu(s.helper);
  for (let i = 0; i < pods; i++) {
    const pc = podConfig(`cpu-${s.label}-${round}-${i}`, logRoot);
    const t0 = now();
    const id = (await s.rt.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const t1 = now();
    await s.rt.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    await s.rt.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    stops.push(now() - t1);
    runs.push(t1 - t0);
  }
  const c1 = serverCpu(s.rt.serverPid());
  const h1 = processCpu(s.helper);
  return {
    run: median(runs),
    stopRemove: median(stops),
    mainMs: (c1.main - c0.main) / pods,
    allMs: (c1.all - c0.all) / pods,
    helperMs: (h1.self - h0.self) / pods,
    reapedMs: (h1.children - h0.children) / pods,
  };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--against <main.js>', "the other build's dist/src/server/main.js")
    .option('--pods <n>', 'serial run + stop + remove cycles per round', (v) => parseInt(v, 10), 10)
    .option('--rounds <n>', 'alternating rounds', (v) => parseInt(v, 10), 6)
    .option('--warmup <n>', 'cycles per build before the first round', (v) => parseInt(v, 10), 3)
    .option('--server-node-flags <flags>', 'node flags for this build\'s peapod-cri, e.g. "--cpu-prof --cpu-prof-dir=DIR"')
    .parse(process.argv)
    .opts<{ against?: string; pods: number; rounds: number; warmup: number; serverNodeFlags?: string }>();
  await withTwoBuilds({ name: 'pod-cpu', against: o.against, serverNodeFlags: o.serverNodeFlags, networkPerBuild: true }, async ({ builds, logRoot, log }) => {
    const subjects: Subject[] = [];
    for (const { label, rt } of builds) {
      const s = { label, rt, helper: spawnerHelperPid(rt, label) };
      await measure(s, o.warmup, logRoot, -1);
      subjects.push(s);
    }
    const results: Record<string, Round[]> = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const s of roundOrder(subjects, round)) (results[s.label] ??= []).push(await measure(s, o.pods, logRoot, round));
      log(`round ${round + 1} of ${o.rounds} done`);
    }
    const labels = subjects.map((s) => s.label);
    const fields: [keyof Round, string][] = [
      ['run', 'RunPodSandbox wall median ms'],
      ['stopRemove', 'StopPodSandbox + RemovePodSandbox wall median ms'],
      ['mainMs', 'server main thread CPU ms per cycle'],
      ['allMs', 'server all threads CPU ms per cycle'],
      ['helperMs', 'spawner helper CPU ms per cycle'],
      ['reapedMs', 'reaped children (pinns, CNI plugins, mount) CPU ms per cycle'],
    ];
    const lines = roundsTable(labels, results, fields, 2);
    for (const l of labels) lines.push(`${l} per round: run ${results[l].map((r) => r.run.toFixed(1)).join(' ')}; stop+remove ${results[l].map((r) => r.stopRemove.toFixed(1)).join(' ')}`);
    process.stdout.write(`${lines.join('\n')}\n(${o.pods} cycles per round, ${o.rounds} rounds; load ${os.loadavg()[0].toFixed(1)})\n`);
  });
}

runBench(main);
