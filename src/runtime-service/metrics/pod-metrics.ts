import * as fs from 'node:fs';
import { nowNs } from '../../common/time';
import type { ContainerRecord } from '../container/record';
import type { SandboxRecord } from '../sandbox/record';
import { CgroupSample, sampleProcessCgroups } from './cgroup-sample';
import { DESCRIPTOR_BY_NAME, MetricKind } from './descriptors';
import { InterfaceStats, podInterfaceStats } from './net-dev';

/**
 * Every ready pod's metrics, as ListPodSandboxMetrics and StreamPodSandboxMetrics
 * report them (a pod that is not ready is left out, as containerd does;
 * CRI-O keeps answering a stopped pod's last figures): per pod the network counters of its namespace (labelled as
 * the pod's `POD` container, as CRI-O and cAdvisor do), per container its
 * cgroup's CPU, memory, OOM and process counts (while it runs) and its
 * writable layer's filesystem usage. Names and labels: descriptors.ts.
 */

/** One sample; `value` is a uint64, `timestampNs` nanoseconds since the epoch. */
export interface MetricSample {
  name: string;
  kind: MetricKind;
  /** Values of the descriptor's label keys, in its order. */
  labelValues: string[];
  value: bigint;
  timestampNs: bigint;
}

/** The samples of one container. */
export interface ContainerMetricsSample {
  containerId: string;
  metrics: MetricSample[];
}

/** The samples of one pod and of its containers. */
export interface PodMetricsSample {
  podSandboxId: string;
  metrics: MetricSample[];
  containerMetrics: ContainerMetricsSample[];
}

/** The parts of a sandbox record the metrics read. */
export type MetricsSandbox = Pick<SandboxRecord, 'id' | 'metadata' | 'state' | 'hostNetwork' | 'namespaces'>;

/** The parts of a container record the metrics read. */
export type MetricsContainer = Pick<ContainerRecord, 'id' | 'sandboxId' | 'metadata' | 'state' | 'pid' | 'image' | 'upperDir' | 'resources' | 'reason'>;

/** Where the metrics come from: the domain's pods and containers (peapod.ts), and the host for tests to replace. */
export interface MetricsSources {
  sandboxes(): readonly MetricsSandbox[];
  containers(): readonly MetricsContainer[];
  /** The writable layer's bytes and inodes as last measured in the background (never a tree walk here). */
  writableLayer(rec: MetricsContainer): { usedBytes: bigint; inodesUsed: bigint };
  /** Reads a running container's cgroups (default: sampleProcessCgroups of its init pid). */
  cgroupOf?: (pid: number) => CgroupSample;
  /** Reads a pod's interfaces (default: podInterfaceStats). */
  interfacesOf?: (pod: MetricsSandbox, pids: number[]) => Promise<InterfaceStats[]>;
  /** The filesystem under a writable layer (default: statfs), undefined when it cannot be read. */
  filesystemOf?: (dir: string) => { totalBytes: bigint; inodesTotal: bigint; inodesFree: bigint } | undefined;
}

/** Pods whose namespace is read with nsenter at the same time (each is one short child process). */
const NETWORK_READ_CONCURRENCY = 4;

/** The cAdvisor/dockershim style name of a container: `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`. */
export function kubeName(container: string, pod: MetricsSandbox['metadata'], attempt: number): string {
  return `k8s_${container}_${pod.name}_${pod.namespace}_${pod.uid}_${attempt}`;
}

/** The base label values of a pod's own (network) metrics: container `POD`. */
export function podBaseLabels(sb: MetricsSandbox): string[] {
  return ['POD', sb.id, '', kubeName('POD', sb.metadata, sb.metadata.attempt), sb.metadata.namespace, sb.metadata.name];
}

/** The base label values of a container's metrics. */
export function containerBaseLabels(sb: MetricsSandbox, rec: MetricsContainer): string[] {
  const image = rec.image.userSpecified || rec.image.name;
  return [rec.metadata.name, rec.id, image, kubeName(rec.metadata.name, sb.metadata, rec.metadata.attempt), sb.metadata.namespace, sb.metadata.name];
}

/** Builds samples with common labels and timestamp; metrics of unknown names or undefined values are left out. */
class SampleList {
  readonly samples: MetricSample[] = [];
  constructor(
    private readonly base: string[],
    private readonly timestampNs: bigint,
  ) {}

  add(name: string, value: bigint | undefined, extraLabels: string[] = []): void {
    if (value === undefined) return;
    const desc = DESCRIPTOR_BY_NAME.get(name);
    if (!desc) throw new Error(`metric ${name} has no descriptor`);
    const labelValues = [...this.base, ...extraLabels];
    if (labelValues.length !== desc.labelKeys.length) throw new Error(`metric ${name} takes ${desc.labelKeys.length} labels, got ${labelValues.length}`);
    this.samples.push({ name, kind: desc.kind, labelValues, value: value < 0n ? 0n : value, timestampNs: this.timestampNs });
  }
}

const NS_PER_S = 1_000_000_000n;
const seconds = (ns: bigint | undefined): bigint | undefined => (ns === undefined ? undefined : ns / NS_PER_S);

function statfsOf(dir: string): { totalBytes: bigint; inodesTotal: bigint; inodesFree: bigint } | undefined {
  try {
    const s = fs.statfsSync(dir, { bigint: true });
    return { totalBytes: s.blocks * s.bsize, inodesTotal: s.files, inodesFree: s.ffree };
  } catch {
    return undefined;
  }
}

/** The samples of the pod's network namespace. */
function networkSamples(sb: MetricsSandbox, ifaces: InterfaceStats[], ts: bigint): MetricSample[] {
  const list = new SampleList(podBaseLabels(sb), ts);
  for (const i of ifaces) {
    list.add('container_network_receive_bytes_total', i.rxBytes, [i.name]);
    list.add('container_network_receive_packets_total', i.rxPackets, [i.name]);
    list.add('container_network_receive_packets_dropped_total', i.rxDropped, [i.name]);
    list.add('container_network_receive_errors_total', i.rxErrors, [i.name]);
    list.add('container_network_transmit_bytes_total', i.txBytes, [i.name]);
    list.add('container_network_transmit_packets_total', i.txPackets, [i.name]);
    list.add('container_network_transmit_packets_dropped_total', i.txDropped, [i.name]);
    list.add('container_network_transmit_errors_total', i.txErrors, [i.name]);
  }
  return list.samples;
}

/** The samples of one container: cgroup ones while it runs, filesystem ones while its layer exists. */
function containerSamples(sb: MetricsSandbox, rec: MetricsContainer, src: MetricsSources, ts: bigint): MetricSample[] {
  const list = new SampleList(containerBaseLabels(sb, rec), ts);
  const running = rec.state === 'running' && rec.pid > 0;
  const cg = running ? (src.cgroupOf ?? sampleProcessCgroups)(rec.pid) : {};
  if (running) {
    list.add('container_cpu_usage_seconds_total', seconds(cg.cpuUsageNs), ['total']);
    list.add('container_cpu_user_seconds_total', seconds(cg.cpuUserNs));
    list.add('container_cpu_system_seconds_total', seconds(cg.cpuSystemNs));
    list.add('container_cpu_cfs_periods_total', cg.cfsPeriods);
    list.add('container_cpu_cfs_throttled_periods_total', cg.cfsThrottledPeriods);
    list.add('container_cpu_cfs_throttled_seconds_total', seconds(cg.cfsThrottledNs));
    list.add('container_memory_usage_bytes', cg.memoryUsageBytes);
    list.add('container_memory_working_set_bytes', cg.memoryWorkingSetBytes);
    list.add('container_memory_rss', cg.memoryRssBytes);
    list.add('container_memory_cache', cg.memoryCacheBytes);
    list.add('container_memory_mapped_file', cg.memoryMappedFileBytes);
    list.add('container_memory_swap', cg.memorySwapBytes);
    list.add('container_memory_max_usage_bytes', cg.memoryMaxUsageBytes);
    list.add('container_memory_failcnt', cg.memoryFailcnt);
    list.add('container_processes', cg.processes);
    list.add('container_last_seen', ts / NS_PER_S);
  }
  // While it runs the cgroup counts the kills (a child may be killed, not the init); after the exit the record says whether it was.
  const oomKilled = rec.reason === 'OOMKilled' ? 1n : 0n;
  list.add('container_oom_events_total', running ? (cg.oomKills ?? oomKilled) : oomKilled);
  const limit = rec.resources?.memoryLimitBytes;
  list.add('container_spec_memory_limit_bytes', BigInt(limit !== undefined && limit > 0 ? Math.floor(limit) : 0));
  if (rec.state !== 'creating' && rec.upperDir) {
    list.add('container_fs_usage_bytes', src.writableLayer(rec).usedBytes);
    const fsInfo = (src.filesystemOf ?? statfsOf)(rec.upperDir);
    list.add('container_fs_limit_bytes', fsInfo?.totalBytes);
    list.add('container_fs_inodes_total', fsInfo?.inodesTotal);
    list.add('container_fs_inodes_free', fsInfo?.inodesFree);
  }
  return list.samples;
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of the results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The metrics of every pod (of `podIds` when given) and its containers,
 * read now. Pods still being created are left out; a pod that is not
 * ready has no network samples (its namespace may be gone); a container
 * that does not run has only its filesystem, OOM and spec samples.
 * Never throws for a pod or container that vanishes meanwhile: what cannot
 * be read is left out.
 *
 * @param src the pods and containers (see MetricsSources)
 * @param podIds only these pods (full IDs), e.g. a single-pod query
 * @returns one entry per pod, in the order of `src.sandboxes()`
 */
export async function collectPodMetrics(src: MetricsSources, podIds?: ReadonlySet<string>): Promise<PodMetricsSample[]> {
  // Ready pods only, as containerd answers (list_pod_sandbox_metrics_linux.go): a stopped pod's
  // processes and network are gone, and its containers' last figures would read as current.
  const pods = src.sandboxes().filter((sb) => sb.state === 'ready' && (!podIds || podIds.has(sb.id)));
  const byPod = new Map<string, MetricsContainer[]>();
  for (const rec of src.containers()) {
    const list = byPod.get(rec.sandboxId);
    if (list) list.push(rec);
    else byPod.set(rec.sandboxId, [rec]);
  }
  const interfacesOf = src.interfacesOf ?? podInterfaceStats;
  return mapLimited(pods, NETWORK_READ_CONCURRENCY, async (sb) => {
    const recs = byPod.get(sb.id) ?? [];
    const pids = recs.filter((r) => r.state === 'running' && r.pid > 0).map((r) => r.pid);
    const ifaces = await interfacesOf(sb, pids).catch(() => []);
    const ts = nowNs();
    return {
      podSandboxId: sb.id,
      metrics: networkSamples(sb, ifaces, ts),
      containerMetrics: recs.filter((r) => r.state !== 'creating').map((rec) => ({ containerId: rec.id, metrics: containerSamples(sb, rec, src, ts) })),
    };
  });
}
