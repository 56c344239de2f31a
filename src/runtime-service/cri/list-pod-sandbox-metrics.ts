import type { ListPodSandboxMetricsResponse } from '../../generated/runtime/v1/ListPodSandboxMetricsResponse';
import type { Metric } from '../../generated/runtime/v1/Metric';
import type { PodSandboxMetrics } from '../../generated/runtime/v1/PodSandboxMetrics';
import { collectPodMetrics, MetricSample } from '../metrics/pod-metrics';
import type { RuntimeContext } from './context';

function toCriMetric(m: MetricSample): Metric {
  return {
    name: m.name,
    timestamp: m.timestampNs.toString(),
    metric_type: m.kind === 'counter' ? 'COUNTER' : 'GAUGE',
    label_values: m.labelValues,
    value: { value: m.value.toString() },
  };
}

/**
 * The metrics of every pod and its containers in the CRI's shape, read now
 * (runtime-service/metrics/pod-metrics.ts): what ListPodSandboxMetrics
 * answers, and what StreamPodSandboxMetrics sends in chunks.
 */
export async function allPodSandboxMetrics(ctx: RuntimeContext): Promise<PodSandboxMetrics[]> {
  const pods = await collectPodMetrics({
    sandboxes: () => ctx.sandboxes.list(),
    containers: () => ctx.containers.list(),
    writableLayer: (rec) => ctx.containers.writableLayerUsage(rec),
  });
  return pods.map((p) => ({
    pod_sandbox_id: p.podSandboxId,
    metrics: p.metrics.map(toCriMetric),
    container_metrics: p.containerMetrics.map((c) => ({ container_id: c.containerId, metrics: c.metrics.map(toCriMetric) })),
  }));
}

/**
 * CRI `ListPodSandboxMetrics`: per ready pod (as containerd) the network counters of its
 * namespace, per container its cgroup's CPU, memory, OOM and process
 * counts and its writable layer's usage, with the cAdvisor names and labels
 * of ListMetricDescriptors (the kubelet's PodAndContainerStatsFromCRI
 * serves them on /metrics/cadvisor).
 */
export function listPodSandboxMetrics(ctx: RuntimeContext) {
  return async (): Promise<ListPodSandboxMetricsResponse> => ({ pod_metrics: await allPodSandboxMetrics(ctx) });
}
