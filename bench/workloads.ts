/**
 * The measured workloads, each driving a runtime only through the CRI with
 * the same requests: pods with CNI, busybox containers, exec, logs, pulls,
 * lists, memory and density. Times are in milliseconds.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig';
import { pssBytes, rssBytes } from './procs';
import type { RuntimeUnderTest } from './runtime';

/** What every workload needs besides the runtime. */
export interface WorkloadContext {
  /** Reference of the busybox image in the local registry (already pulled). */
  image: string;
  /** Directory under which pods get their log_directory. */
  logRoot: string;
  /** Warm-up runs before measuring. */
  warmup: number;
  /** Measured runs. */
  runs: number;
  /** Prints a progress line. */
  progress(msg: string): void;
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/** Runs `fn` for each of `items` with at most `concurrency` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A pod config as the kubelet sends it: own network namespace (CNI), pid per container, log directory. */
export function podConfig(name: string, logRoot: string): PodSandboxConfig {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, namespace: 'bench', uid, attempt: 0 },
    hostname: name,
    log_directory: path.join(logRoot, `bench_${name}_${uid}`),
    labels: { bench: 'yes', pod: name },
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

/**
 * A container config running `command` from `image`, logging to
 * `<name>/0.log`, with the pod's namespace options repeated as the kubelet
 * does (absent options would mean pid POD, the proto default).
 */
export function containerConfig(name: string, image: string, command: string[]): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    log_path: `${name}/0.log`,
    labels: { bench: 'yes', ctr: name },
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

/** The command of a container that idles until killed. */
export const SLEEP = ['sleep', '3600'];

/** RunPodSandbox; returns the pod ID. */
async function runPod(rt: RuntimeUnderTest, config: PodSandboxConfig): Promise<string> {
  return (await rt.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
}

/** CreateContainer + StartContainer; returns the container ID. */
async function startContainer(rt: RuntimeUnderTest, podId: string, pc: PodSandboxConfig, cc: ContainerConfig): Promise<string> {
  const { container_id } = await rt.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: cc, sandbox_config: pc });
  await rt.client.runtime.StartContainer({ container_id });
  return container_id;
}

/** StopPodSandbox + RemovePodSandbox. */
async function removePod(rt: RuntimeUnderTest, podId: string): Promise<void> {
  await rt.client.runtime.StopPodSandbox({ pod_sandbox_id: podId });
  await rt.client.runtime.RemovePodSandbox({ pod_sandbox_id: podId });
}

/** Stops and removes every pod of the runtime (containers go with their pods), 4 at a time. */
export async function removeAllPods(rt: RuntimeUnderTest): Promise<void> {
  const { items } = await rt.client.runtime.ListPodSandbox({});
  await pool(items, 4, async (p) => {
    const { containers } = await rt.client.runtime.ListContainers({ filter: { pod_sandbox_id: p.id } });
    for (const c of containers) {
      await rt.client.runtime.StopContainer({ container_id: c.id, timeout: 0 });
      await rt.client.runtime.RemoveContainer({ container_id: c.id });
    }
    await removePod(rt, p.id);
  });
}

/** Starts `pods` pods of `perPod` sleeping containers each, `concurrency` pods at a time. */
async function startPods(rt: RuntimeUnderTest, ctx: WorkloadContext, prefix: string, pods: number, perPod: number, concurrency: number): Promise<void> {
  await pool(
    Array.from({ length: pods }, (_, i) => i),
    concurrency,
    async (i) => {
      const pc = podConfig(`${prefix}-${i}`, ctx.logRoot);
      const id = await runPod(rt, pc);
      for (let c = 0; c < perPod; c++) await startContainer(rt, id, pc, containerConfig(`c${c}`, ctx.image, SLEEP));
    },
  );
}

/** Runs `body` warm-up + measured times; `body` returns the samples of one run by series name. */
async function repeat(ctx: WorkloadContext, label: string, body: (i: number) => Promise<Record<string, number>>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    const sample = await body(i);
    if (i < ctx.warmup) continue;
    for (const [k, v] of Object.entries(sample)) (out[k] ??= []).push(v);
  }
  ctx.progress(`${label}: ${ctx.runs} runs after ${ctx.warmup} warm-up`);
  return out;
}

/** RunPodSandbox with CNI; StopPodSandbox + RemovePodSandbox. */
export async function benchSandbox(rt: RuntimeUnderTest, ctx: WorkloadContext): Promise<Record<string, number[]>> {
  return repeat(ctx, 'sandbox', async (i) => {
    const pc = podConfig(`sb-${i}`, ctx.logRoot);
    const t0 = now();
    const id = await runPod(rt, pc);
    const t1 = now();
    await removePod(rt, id);
    return { run: t1 - t0, stopRemove: now() - t1 };
  });
}

/** CreateContainer + StartContainer of a busybox sleep; StopContainer(timeout 0) + RemoveContainer; in one pod. */
export async function benchContainer(rt: RuntimeUnderTest, ctx: WorkloadContext): Promise<Record<string, number[]>> {
  const pc = podConfig('ctr', ctx.logRoot);
  const podId = await runPod(rt, pc);
  try {
    return await repeat(ctx, 'container', async (i) => {
      const t0 = now();
      const id = await startContainer(rt, podId, pc, containerConfig(`sleep-${i}`, ctx.image, SLEEP));
      const t1 = now();
      await rt.client.runtime.StopContainer({ container_id: id, timeout: 0 });
      await rt.client.runtime.RemoveContainer({ container_id: id });
      return { createStart: t1 - t0, stopRemove_ctr: now() - t1 };
    });
  } finally {
    await removePod(rt, podId);
  }
}

/** ExecSync of `true` in a running container. @throws when `true` does not exit 0 */
export async function benchExec(rt: RuntimeUnderTest, ctx: WorkloadContext): Promise<Record<string, number[]>> {
  const pc = podConfig('exec', ctx.logRoot);
  const podId = await runPod(rt, pc);
  try {
    const id = await startContainer(rt, podId, pc, containerConfig('exec', ctx.image, SLEEP));
    const serial = await repeat(ctx, 'exec', async () => {
      const t0 = now();
      const res = await rt.client.runtime.ExecSync({ container_id: id, cmd: ['true'], timeout: 10 });
      const t = now() - t0;
      if (res.exit_code !== 0) throw new Error(`${rt.name}: ExecSync true exited ${res.exit_code}: ${res.stderr.toString()}`);
      return { execSync: t };
    });
    return { ...serial, ...(await versionUnderExecs(rt, ctx, id)) };
  } finally {
    await removePod(rt, podId);
  }
}

/** ExecSyncs kept running at once while Version's latency is measured. */
const CONCURRENT_EXECS = 20;

/**
 * The event loop's health under load: Version's latency, one call at a time
 * (5 per measured run), alone (`versionIdle`) and while CONCURRENT_EXECS
 * ExecSync calls of `true` run at once into container `id` (`versionUnderExec`).
 * @throws when an ExecSync fails
 */
async function versionUnderExecs(rt: RuntimeUnderTest, ctx: WorkloadContext, id: string): Promise<Record<string, number[]>> {
  const samples = 5 * ctx.runs;
  const version = async (): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = now();
      await rt.client.runtime.Version({});
      out.push(now() - t0);
    }
    return out;
  };
  const versionIdle = await version();
  let stop = false;
  let failure: Error | undefined;
  const loops = Array.from({ length: CONCURRENT_EXECS }, async () => {
    while (!stop) {
      const res = await rt.client.runtime.ExecSync({ container_id: id, cmd: ['true'], timeout: 30 });
      if (res.exit_code !== 0) failure ??= new Error(`${rt.name}: ExecSync true exited ${res.exit_code}`);
    }
  });
  // Let the concurrent calls get going before measuring.
  await new Promise((r) => setTimeout(r, 500));
  const versionUnderExec = await version();
  stop = true;
  await Promise.all(loops);
  if (failure) throw failure;
  ctx.progress(`Version: ${samples} calls alone and under ${CONCURRENT_EXECS} concurrent ExecSync`);
  return { versionIdle, versionUnderExec };
}

/** Resolves when `file` exists and holds a complete line; polls every millisecond. @throws after `ms` */
async function waitFirstLine(file: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (fs.readFileSync(file, 'utf8').includes('\n')) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`no log line in ${file} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** From RunPodSandbox to the container's first log line on disk (pod, create, start of `echo ready; sleep`). */
export async function benchFirstLog(rt: RuntimeUnderTest, ctx: WorkloadContext): Promise<Record<string, number[]>> {
  return repeat(ctx, 'first log line', async (i) => {
    const pc = podConfig(`log-${i}`, ctx.logRoot);
    const cc = containerConfig('echo', ctx.image, ['sh', '-c', 'echo ready; exec sleep 3600']);
    const t0 = now();
    const podId = await runPod(rt, pc);
    await startContainer(rt, podId, pc, cc);
    await waitFirstLine(path.join(pc.log_directory!, cc.log_path!), 30_000);
    const t = now() - t0;
    await removeAllPods(rt);
    return { firstLog: t };
  });
}

/**
 * PullImage of `ref` into a store without it: RemoveImage before each run
 * (one warm-up pull first). Returns seconds and MB/s (10^6 bytes
 * of compressed blobs per second).
 */
export async function benchPull(rt: RuntimeUnderTest, ctx: WorkloadContext, ref: string, blobBytes: number, runs: number): Promise<Record<string, number[]>> {
  return repeat({ ...ctx, runs, warmup: 1 }, 'pull', async () => {
    await rt.client.image.RemoveImage({ image: { image: ref } }).catch(() => undefined);
    const st = await rt.client.image.ImageStatus({ image: { image: ref } });
    if (st.image) throw new Error(`${rt.name}: ${ref} still present after RemoveImage`);
    const t0 = now();
    await rt.client.image.PullImage({ image: { image: ref } });
    const s = (now() - t0) / 1000;
    return { pullSeconds: s, pullMBps: blobBytes / 1e6 / s };
  });
}

/** ListContainers and ListPodSandbox with `pods` pods × 2 containers present. */
export async function benchList(rt: RuntimeUnderTest, ctx: WorkloadContext, pods: number): Promise<Record<string, number[]>> {
  await startPods(rt, ctx, 'list', pods, 2, 4);
  try {
    return await repeat(ctx, `list (${pods} pods x 2 containers)`, async () => {
      const t0 = now();
      const { containers } = await rt.client.runtime.ListContainers({});
      const t1 = now();
      const { items } = await rt.client.runtime.ListPodSandbox({});
      const t2 = now();
      if (containers.length !== pods * 2 || items.length !== pods) throw new Error(`${rt.name}: listed ${items.length} pods, ${containers.length} containers`);
      return { listContainers: t1 - t0, listPods: t2 - t1 };
    });
  } finally {
    await removeAllPods(rt);
  }
}

/** Memory figures with pods running, in bytes. */
export interface MemorySample {
  serverRss: number;
  /** The server's RSS just after it started, before any pull or workload (no pods). */
  serverRssNoPods: number;
  /**
   * (serverRss - the RSS just before these pods started) / pods: what each
   * running pod adds (what earlier workloads left is in both figures).
   */
  serverRssPerPod: number;
  /** Number of monitor processes (conmon, or containerd-shim-runc-v2). */
  monitors: number;
  /** Sum of the monitors' PSS. */
  monitorPssTotal: number;
  /** monitorPssTotal divided by the app containers running. */
  monitorPssPerContainer: number;
}

/**
 * Density: wall time to start `pods` pods of one sleeping container each,
 * `concurrency` at a time; then, with them all running, the server's RSS and
 * the monitors' PSS per container. Removes the pods after.
 * @param serverRssNoPods the server's RSS at its start (bytes), reported alongside
 * @param settleMs milliseconds to wait before the RSS just before the pods
 *   is read, so that it is of the server at rest, not of what the workload
 *   before left running for a while (peapod-cri's layer worker threads live
 *   WORKER_IDLE_MS after a pull): without it a pull just before counted its
 *   threads in the figure before and not in the one after, and a pod seemed
 *   to cost less than nothing
 */
export async function benchDensity(rt: RuntimeUnderTest, ctx: WorkloadContext, pods: number, concurrency: number, serverRssNoPods: number, settleMs = 0): Promise<{ seconds: number; memory: MemorySample }> {
  try {
    if (settleMs > 0) {
      ctx.progress(`density: ${settleMs / 1000} s for the server to settle first`);
      await new Promise((r) => setTimeout(r, settleMs));
    }
    const before = rssBytes(rt.serverPid());
    const t0 = now();
    await startPods(rt, ctx, 'density', pods, 1, concurrency);
    const seconds = (now() - t0) / 1000;
    ctx.progress(`density: ${pods} pods in ${seconds.toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 2000)); // let start-up garbage settle
    const monitors = rt.monitorPids();
    const monitorPssTotal = monitors.reduce((a, pid) => a + pssBytes(pid), 0);
    return {
      seconds,
      memory: (() => {
        const serverRss = rssBytes(rt.serverPid());
        return { serverRss, serverRssNoPods, serverRssPerPod: (serverRss - before) / pods, monitors: monitors.length, monitorPssTotal, monitorPssPerContainer: monitorPssTotal / pods };
      })(),
    };
  } finally {
    await removeAllPods(rt);
  }
}

/**
 * The small read RPCs critest's benchmark mode times, each one call at a
 * time (5 samples per measured run), in one pod with one running container:
 * PodSandboxStatus, ContainerStatus, ImageStatus and ListImages; then, per
 * run, RemoveContainer alone of a container already stopped (critest's
 * RemoveContainer). Each sample is one call's round trip through the
 * benchmark's client.
 * @throws when a status call does not find its object
 */
export async function benchSmallRpcs(rt: RuntimeUnderTest, ctx: WorkloadContext): Promise<Record<string, number[]>> {
  const pc = podConfig('rpc', ctx.logRoot);
  const podId = await runPod(rt, pc);
  try {
    const ctrId = await startContainer(rt, podId, pc, containerConfig('rpc', ctx.image, SLEEP));
    const reads: Record<string, () => Promise<unknown>> = {
      podStatus: async () => {
        if (!(await rt.client.runtime.PodSandboxStatus({ pod_sandbox_id: podId })).status) throw new Error(`${rt.name}: PodSandboxStatus found no pod`);
      },
      containerStatus: async () => {
        if (!(await rt.client.runtime.ContainerStatus({ container_id: ctrId })).status) throw new Error(`${rt.name}: ContainerStatus found no container`);
      },
      imageStatus: async () => {
        if (!(await rt.client.image.ImageStatus({ image: { image: ctx.image } })).image) throw new Error(`${rt.name}: ImageStatus found no image`);
      },
      listImages: () => rt.client.image.ListImages({}),
    };
    return await repeat(ctx, 'small RPCs', async (i) => {
      const sample: Record<string, number> = {};
      for (const [key, call] of Object.entries(reads)) {
        const times: number[] = [];
        for (let k = 0; k < 5; k++) {
          const t0 = now();
          await call();
          times.push(now() - t0);
        }
        // One run's figure: the median of its 5 calls.
        sample[key] = times.sort((a, b) => a - b)[2];
      }
      const { container_id } = await rt.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: containerConfig(`rm-${i}`, ctx.image, SLEEP), sandbox_config: pc });
      await rt.client.runtime.StartContainer({ container_id });
      await rt.client.runtime.StopContainer({ container_id, timeout: 0 });
      const t0 = now();
      await rt.client.runtime.RemoveContainer({ container_id });
      sample.removeContainer = now() - t0;
      return sample;
    });
  } finally {
    await removePod(rt, podId);
  }
}
