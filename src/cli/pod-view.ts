/**
 * Podman's views of a pod: the rows of `pod ps` (fields for tables and
 * templates, ListPodReporter's), its `--format json` objects
 * (ListPodsReport), and `pod inspect`'s object (InspectPodData), from a
 * sandbox record and its containers.
 */
import type { ContainerRecord } from '../runtime-service/container/record';
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import { timeAgo } from './output/units';
import { containerName, podRequest, PodStatus, podStatus } from './pods';
import { portBindings } from './port-mappings';

/** A pod with its containers and status, as the views take it. */
export interface PodInfo {
  pod: SandboxRecord;
  containers: ContainerRecord[];
  status: PodStatus;
}

/** Builds a PodInfo. */
export function podInfo(pod: SandboxRecord, containers: ContainerRecord[]): PodInfo {
  return { pod, containers, status: podStatus(pod, containers) };
}

/** Milliseconds since the epoch of a nanosecond decimal string. */
export function nsToMs(ns: string): number {
  return Number(BigInt(ns) / 1_000_000n);
}

/** Go's RFC 3339 with nanoseconds, trailing zeros of the fraction dropped: `2026-12-01T11:51:16.139140737Z`. */
export function rfc3339Nano(ns: string): string {
  const n = BigInt(ns);
  const iso = new Date(Number(n / 1_000_000n)).toISOString().slice(0, 19);
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}

/** The networks a pod is on, as Podman names them (none for host and none). */
function networks(pod: SandboxRecord): string[] {
  return pod.networkName ? [pod.networkName] : [];
}

/** The cgroup the pod's cgroup is made under (Podman's CgroupParent; the path for cgroupfs, the slice for systemd). */
function cgroupParentOf(pod: SandboxRecord): string {
  return pod.cgroupParent.startsWith('/') ? pod.cgroupParent.split('/').slice(0, -1).join('/') || '/' : pod.cgroupParent;
}

/** Podman's lowercase container states. */
function ctrStatus(c: ContainerRecord): string {
  return c.state;
}

/** Column headers of `pod ps` (Podman's). */
export const POD_HEADERS: Record<string, string> = {
  ID: 'POD ID',
  Id: 'POD ID',
  Name: 'NAME',
  Status: 'STATUS',
  Labels: 'LABELS',
  NumberOfContainers: '# OF CONTAINERS',
  Created: 'CREATED',
  InfraID: 'INFRA ID',
  InfraId: 'INFRA ID',
  ContainerIds: 'IDS',
  ContainerNames: 'NAMES',
  ContainerStatuses: 'STATUS',
  Cgroup: 'CGROUP',
  Namespace: 'NAMESPACES',
  Networks: 'NETWORKS',
  Restarts: 'RESTARTS',
};

/** One `pod ps` row: Podman's template fields. */
export interface PodRow {
  ID: string;
  Id: string;
  Name: string;
  Status: string;
  Created: string;
  CreatedAt: string;
  InfraID: string;
  InfraId: string;
  NumberOfContainers: number;
  Labels: Record<string, string>;
  Networks: string;
  Cgroup: string;
  Namespace: string;
  ContainerIds: string;
  ContainerNames: string;
  ContainerStatuses: string;
  Restarts: string;
}

/** The `pod ps` row of a pod. @param noTrunc full IDs */
export function podRow(p: PodInfo, noTrunc: boolean, nowMs: number): PodRow {
  const id = noTrunc ? p.pod.id : p.pod.id.slice(0, 12);
  return {
    ID: id,
    Id: id,
    Name: p.pod.metadata.name,
    Status: p.status,
    Created: timeAgo(nsToMs(p.pod.createdAt), nowMs),
    CreatedAt: rfc3339Nano(p.pod.createdAt),
    InfraID: '',
    InfraId: '',
    NumberOfContainers: p.containers.length,
    Labels: p.pod.labels,
    Networks: networks(p.pod).join(','),
    Cgroup: cgroupParentOf(p.pod),
    Namespace: '',
    ContainerIds: p.containers.map((c) => (noTrunc ? c.id : c.id.slice(0, 12))).join(','),
    ContainerNames: p.containers.map(containerName).join(','),
    ContainerStatuses: p.containers.map(ctrStatus).join(','),
    Restarts: '0',
  };
}

/** `pod ps --format json`: Podman's ListPodsReport. */
export function podJson(p: PodInfo): Record<string, unknown> {
  return {
    Cgroup: cgroupParentOf(p.pod),
    Containers: p.containers.map((c) => ({ Id: c.id, Names: containerName(c), Status: ctrStatus(c) })),
    Created: rfc3339Nano(p.pod.createdAt),
    Id: p.pod.id,
    InfraId: '',
    Name: p.pod.metadata.name,
    Namespace: '',
    Networks: networks(p.pod),
    Status: p.status,
    Labels: p.pod.labels,
  };
}

/** `pod inspect`: Podman's InspectPodData, with peapod's pod IP under InfraConfig. */
export function podInspect(p: PodInfo): Record<string, unknown> {
  const r = podRequest(p.pod);
  const setup = p.pod.setup;
  const dns = setup?.dns;
  return {
    Id: p.pod.id,
    Name: p.pod.metadata.name,
    Created: rfc3339Nano(p.pod.createdAt),
    CreateCommand: r.createCommand,
    ExitPolicy: 'continue',
    State: p.status,
    Hostname: p.pod.hostNetwork ? '' : (setup?.hostname ?? ''),
    Labels: p.pod.labels,
    CreateCgroup: true,
    CgroupParent: cgroupParentOf(p.pod),
    CgroupPath: p.pod.cgroupParent,
    CreateInfra: false,
    InfraContainerID: '',
    InfraConfig: {
      PortBindings: portBindings(p.pod.portMappings ?? []),
      HostNetwork: p.pod.hostNetwork,
      StaticIP: '',
      StaticMAC: '',
      NoManageResolvConf: false,
      DNSServer: dns?.servers.length ? dns.servers : null,
      DNSSearch: dns?.searches.length ? dns.searches : null,
      DNSOption: dns?.options.length ? dns.options : null,
      NoManageHosts: false,
      HostAdd: null,
      Networks: networks(p.pod),
      NetworkOptions: null,
      pid_ns: p.pod.namespaceOptions.pid === 'POD' ? 'pod' : 'private',
      userns: 'host',
      uts_ns: p.pod.hostNetwork ? 'host' : 'private',
      IP: p.pod.ip ?? '',
    },
    SharedNamespaces: r.share,
    NumContainers: p.containers.length,
    Containers: p.containers.map((c) => ({ Id: c.id, Name: containerName(c), State: ctrStatus(c) })),
  };
}
