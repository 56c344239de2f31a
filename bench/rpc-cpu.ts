/**
 * Server CPU time per call of the small read RPCs (status and list), for
 * two builds of peapod-cri side by side: what a call costs the server
 * itself, which holds on a loaded machine where wall times do not. Both
 * servers run at once with the same pods (one pod with a running container
 * for the status calls, `--pods` pods of 2 containers for the lists) and
 * are measured in alternating rounds (A B, B A, ...); each figure is
 * (time on CPU of the server's threads, /proc/PID/task/TID/schedstat) / calls,
 * in ms: the median and the minimum over the rounds (on a loaded machine
 * the minimum, the round least disturbed, is the steadier figure). The wall median of the calls is printed beside it.
 *
 *   npm run build && node dist/bench/rpc-cpu.js --against /tmp/base/dist/src/server/main.js [--calls 400] [--rounds 4] [--pods 100] [--change-every 5]
 *   node dist/bench/rpc-cpu.js --server-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
 */
import { Command } from 'commander';
import * as os from 'node:os';
import type { RuntimeUnderTest } from './runtime';
import { median, roundOrder, runBench, serverCpu, withTwoBuilds } from './two-builds';
import { containerConfig, now, podConfig, pool, SLEEP } from './workloads';

/** One server under test with what its calls need. */
interface Subject {
  label: string;
  rt: RuntimeUnderTest;
  calls: Record<string, () => Promise<unknown>>;
  /** One lifecycle change in the status pod: a container created, started, stopped and removed. */
  change: () => Promise<void>;
}

/** Sets up a server's pods and returns its named calls. */
async function prepare(label: string, rt: RuntimeUnderTest, image: string, logRoot: string, pods: number): Promise<Subject> {
  await rt.client.image.PullImage({ image: { image } });
  const pc = podConfig('rpc', logRoot);
  const podId = (await rt.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
  const { container_id: ctrId } = await rt.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: containerConfig('rpc', image, SLEEP), sandbox_config: pc });
  await rt.client.runtime.StartContainer({ container_id: ctrId });
  await pool(
    Array.from({ length: pods }, (_, i) => i),
    4,
    async (i) => {
      const p = podConfig(`list-${i}`, logRoot);
      const id = (await rt.client.runtime.RunPodSandbox({ config: p })).pod_sandbox_id;
      for (let c = 0; c < 2; c++) {
        const { container_id } = await rt.client.runtime.CreateContainer({ pod_sandbox_id: id, config: containerConfig(`c${c}`, image, SLEEP), sandbox_config: p });
        await rt.client.runtime.StartContainer({ container_id });
      }
    },
  );
  const r = rt.client.runtime;
  const img = rt.client.image;
  let changes = 0;
  const change = async (): Promise<void> => {
    const { container_id } = await r.CreateContainer({ pod_sandbox_id: podId, config: containerConfig(`change-${changes++}`, image, SLEEP), sandbox_config: pc });
    await r.StartContainer({ container_id });
    await r.StopContainer({ container_id, timeout: 0 });
    await r.RemoveContainer({ container_id });
  };
  return {
    label,
    rt,
    change,
    calls: {
      Version: () => r.Version({}),
      PodSandboxStatus: () => r.PodSandboxStatus({ pod_sandbox_id: podId }),
      'PodSandboxStatus verbose': () => r.PodSandboxStatus({ pod_sandbox_id: podId, verbose: true }),
      ContainerStatus: () => r.ContainerStatus({ container_id: ctrId }),
      'ContainerStatus verbose': () => r.ContainerStatus({ container_id: ctrId, verbose: true }),
      ImageStatus: () => img.ImageStatus({ image: { image } }),
      'ImageStatus verbose': () => img.ImageStatus({ image: { image }, verbose: true }),
      ListImages: () => img.ListImages({}),
      [`ListContainers (${pods + 1} pods)`]: () => r.ListContainers({}),
      'ListContainers, one pod': () => r.ListContainers({ filter: { pod_sandbox_id: podId } }),
      [`ListPodSandbox (${pods + 1} pods)`]: () => r.ListPodSandbox({}),
      // The bench's small reads: the RPC switches every 5 calls.
      'switching every 5 calls': (() => {
        const cycle = [() => r.PodSandboxStatus({ pod_sandbox_id: podId }), () => r.ContainerStatus({ container_id: ctrId }), () => img.ImageStatus({ image: { image } }), () => img.ListImages({})];
        let n = 0;
        return () => cycle[Math.floor(n++ / 5) % cycle.length]();
      })(),
    },
  };
}

/**
 * `calls` sequential calls of `call`: the server's CPU ms per call and the wall median in ms.
 * With `changeEvery`, every that many calls `change()` runs first (a lifecycle change, as the
 * bench's reads follow one), then a pause of `settleMs` for its background work; neither is
 * counted, so the figure is what the reads cost after a change.
 */
async function measure(s: Subject, call: () => Promise<unknown>, calls: number, changeEvery = 0, settleMs = 300): Promise<{ cpu: number; wall: number }> {
  for (let i = 0; i < 20; i++) await call();
  const walls: number[] = [];
  let cpu = 0;
  let c0 = serverCpu(s.rt.serverPid()).all;
  for (let i = 0; i < calls; i++) {
    if (changeEvery > 0 && i % changeEvery === 0) {
      cpu += serverCpu(s.rt.serverPid()).all - c0;
      await s.change();
      await new Promise((r) => setTimeout(r, settleMs));
      c0 = serverCpu(s.rt.serverPid()).all;
    }
    const t0 = now();
    await call();
    walls.push(now() - t0);
  }
  cpu += serverCpu(s.rt.serverPid()).all - c0;
  return { cpu: cpu / calls, wall: median(walls) };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--against <main.js>', "the other build's dist/src/server/main.js")
    .option('--calls <n>', 'calls per RPC per round', (v) => parseInt(v, 10), 400)
    .option('--rounds <n>', 'alternating rounds', (v) => parseInt(v, 10), 4)
    .option('--pods <n>', 'extra pods (2 containers each) for the lists', (v) => parseInt(v, 10), 20)
    .option('--only <names>', 'comma-separated RPC names to measure (as printed)')
    .option('--change-every <n>', 'a lifecycle change (container create, start, stop, remove; not counted) before every n calls, as the bench reads after one', (v) => parseInt(v, 10), 0)
    .option('--server-node-flags <flags>', 'node flags for this build\'s peapod-cri, e.g. "--cpu-prof --cpu-prof-dir=DIR"')
    .parse(process.argv)
    .opts<{ against?: string; calls: number; rounds: number; pods: number; only?: string; serverNodeFlags?: string; changeEvery: number }>();
  await withTwoBuilds({ name: 'rpc-cpu', against: o.against, serverNodeFlags: o.serverNodeFlags }, async ({ builds, image, logRoot, log }) => {
    const subjects: Subject[] = [];
    for (const { label, rt } of builds) {
      subjects.push(await prepare(label, rt, image, logRoot, o.pods));
      log(`${label}: ${o.pods + 1} pods ready`);
    }
    const only = o.only ? new Set(o.only.split(',')) : undefined;
    const names = Object.keys(subjects[0].calls).filter((n) => !only || only.has(n));
    const results: Record<string, Record<string, { cpu: number[]; wall: number[] }>> = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const name of names) {
        for (const s of roundOrder(subjects, round)) {
          const m = await measure(s, s.calls[name], o.calls, o.changeEvery);
          const cell = ((results[name] ??= {})[s.label] ??= { cpu: [], wall: [] });
          cell.cpu.push(m.cpu);
          cell.wall.push(m.wall);
        }
      }
      log(`round ${round + 1} of ${o.rounds} done`);
    }
    const labels = subjects.map((s) => s.label);
    const head = ['RPC', ...labels.map((l) => `${l} CPU ms/call (median, min)`), ...(labels.length === 2 ? ['CPU ratio this/against (median, min)'] : []), ...labels.map((l) => `${l} wall median ms`)];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const name of names) {
      const cpu = labels.map((l) => median(results[name][l].cpu));
      const min = labels.map((l) => Math.min(...results[name][l].cpu));
      const wall = labels.map((l) => median(results[name][l].wall));
      const ratio = labels.length === 2 ? [`${(cpu[1] / cpu[0]).toFixed(2)}, ${(min[1] / min[0]).toFixed(2)}`] : [];
      lines.push(`| ${[name, ...cpu.map((c, i) => `${c.toFixed(3)}, ${min[i].toFixed(3)}`), ...ratio, ...wall.map((w) => w.toFixed(3))].join(' | ')} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n(${o.calls} calls per RPC per round${o.changeEvery ? `, a lifecycle change before every ${o.changeEvery}` : ''}, ${o.rounds} rounds, medians over rounds; load ${os.loadavg()[0].toFixed(1)})\n`);
  });
}

runBench(main);
