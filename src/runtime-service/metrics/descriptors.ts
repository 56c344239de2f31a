/**
 * The container metrics peapod reports through the CRI (ListMetricDescriptors,
 * ListPodSandboxMetrics): the cAdvisor names the kubelet serves on
 * /metrics/cadvisor, which it reads from the runtime when
 * PodAndContainerStatsFromCRI is on (kubernetes pkg/kubelet/metrics/collectors/cri_metrics.go
 * turns each descriptor into a Prometheus description with exactly these
 * label keys, and drops a sample whose label values do not match them).
 *
 * Names, help texts and types follow cAdvisor and CRI-O (internal/lib/stats).
 * Labels are cAdvisor's: container, id, image, name, namespace, pod, then
 * the metric's own (cpu, interface). The CRI carries values as uint64, so
 * seconds are whole seconds (truncated), as CRI-O reports them.
 */

/** COUNTER or GAUGE, as the CRI's MetricType. */
export type MetricKind = 'counter' | 'gauge';

/** One metric as ListMetricDescriptors describes it. */
export interface MetricDescriptorSpec {
  name: string;
  help: string;
  labelKeys: readonly string[];
  kind: MetricKind;
}

/** The labels every container metric carries, in this order. */
export const BASE_LABEL_KEYS = ['container', 'id', 'image', 'name', 'namespace', 'pod'] as const;

const base = BASE_LABEL_KEYS;
const withCpu = [...BASE_LABEL_KEYS, 'cpu'] as const;
const withInterface = [...BASE_LABEL_KEYS, 'interface'] as const;

function d(name: string, kind: MetricKind, help: string, labelKeys: readonly string[] = base): MetricDescriptorSpec {
  return { name, help, labelKeys, kind };
}

/** Every metric peapod reports, by family. */
export const METRIC_DESCRIPTORS = {
  cpu: [
    d('container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.', withCpu),
    d('container_cpu_user_seconds_total', 'counter', 'Cumulative user cpu time consumed in seconds.'),
    d('container_cpu_system_seconds_total', 'counter', 'Cumulative system cpu time consumed in seconds.'),
    d('container_cpu_cfs_periods_total', 'counter', 'Number of elapsed enforcement period intervals.'),
    d('container_cpu_cfs_throttled_periods_total', 'counter', 'Number of throttled period intervals.'),
    d('container_cpu_cfs_throttled_seconds_total', 'counter', 'Total time duration the container has been throttled.'),
  ],
  memory: [
    d('container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes, including all memory regardless of when it was accessed'),
    d('container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.'),
    d('container_memory_rss', 'gauge', 'Size of RSS in bytes.'),
    d('container_memory_cache', 'gauge', 'Number of bytes of page cache memory.'),
    d('container_memory_mapped_file', 'gauge', 'Size of memory mapped files in bytes.'),
    d('container_memory_swap', 'gauge', 'Container swap usage in bytes.'),
    d('container_memory_max_usage_bytes', 'gauge', 'Maximum memory usage recorded in bytes'),
    d('container_memory_failcnt', 'counter', 'Number of memory usage hits limits'),
  ],
  oom: [d('container_oom_events_total', 'counter', 'Count of out of memory events observed for the container')],
  process: [d('container_processes', 'gauge', 'Number of processes running inside the container.')],
  spec: [d('container_spec_memory_limit_bytes', 'gauge', 'Memory limit for the container in bytes.')],
  fs: [
    d('container_fs_usage_bytes', 'gauge', 'Number of bytes that are consumed by the container on this filesystem.'),
    d('container_fs_inodes_total', 'gauge', 'Number of Inodes'),
    d('container_fs_inodes_free', 'gauge', 'Number of available Inodes'),
    d('container_fs_limit_bytes', 'gauge', 'Number of bytes that can be consumed by the container on this filesystem.'),
  ],
  network: [
    d('container_network_receive_bytes_total', 'counter', 'Cumulative count of bytes received', withInterface),
    d('container_network_receive_packets_total', 'counter', 'Cumulative count of packets received', withInterface),
    d('container_network_receive_packets_dropped_total', 'counter', 'Cumulative count of packets dropped while receiving', withInterface),
    d('container_network_receive_errors_total', 'counter', 'Cumulative count of errors encountered while receiving', withInterface),
    d('container_network_transmit_bytes_total', 'counter', 'Cumulative count of bytes transmitted', withInterface),
    d('container_network_transmit_packets_total', 'counter', 'Cumulative count of packets transmitted', withInterface),
    d('container_network_transmit_packets_dropped_total', 'counter', 'Cumulative count of packets dropped while transmitting', withInterface),
    d('container_network_transmit_errors_total', 'counter', 'Cumulative count of errors encountered while transmitting', withInterface),
  ],
  misc: [d('container_last_seen', 'gauge', 'Last time a container was seen by the exporter')],
} as const satisfies Record<string, readonly MetricDescriptorSpec[]>;

/** Every descriptor, flat, in a stable order. */
export function allMetricDescriptors(): MetricDescriptorSpec[] {
  return Object.values(METRIC_DESCRIPTORS).flat();
}

/** The descriptor of a metric name. */
export const DESCRIPTOR_BY_NAME: ReadonlyMap<string, MetricDescriptorSpec> = new Map(allMetricDescriptors().map((m) => [m.name, m]));
