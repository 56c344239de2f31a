/**
 * Podman's views of a container: the rows of `ps` (its template fields and
 * table columns), the JSON of `ps --format json`, and `inspect`'s document
 * (Podman's field names where the meaning is the same).
 */
import type { CniPortMapping } from '../../runtime-service/cni/runtime-config';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { OciSpec } from '../../runtime-service/oci/types';
import type { SandboxRecord } from '../../runtime-service/sandbox/record';
import { humanDuration, timeAgo } from '../output/units';
import { hasOwnSandbox, imageNameOf, isAutoremove, processArgsOf, stopTimeoutOf } from './metadata';

/** Nanoseconds (decimal string) to milliseconds; 0 for unset. */
export function nsToMs(ns: string): number {
  return ns === '0' || ns === '' ? 0 : Number(BigInt(ns) / 1_000_000n);
}

/** RFC 3339 with nanoseconds, as Go prints a time.Time in JSON; Go's zero time for unset. */
export function rfc3339(ns: string): string {
  if (ns === '0' || ns === '') return '0001-01-01T00:00:00Z';
  const n = BigInt(ns);
  const iso = new Date(Number(n / 1_000_000n)).toISOString().slice(0, 19);
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}

/** Podman's state words: created, running, exited. */
export function stateOf(rec: ContainerRecord): string {
  return rec.state === 'creating' ? 'created' : rec.state;
}

/** The STATUS column: `Created`, `Up 3 minutes ago`, `Exited (0) 2 seconds ago` (Podman 4.3's wording). */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  if (rec.state === 'running') return `Up ${timeAgo(nsToMs(rec.startedAt), now)}`;
  if (rec.state === 'exited') return `Exited (${rec.exitCode}) ${timeAgo(nsToMs(rec.finishedAt), now)}`;
  return 'Created';
}

/** Ports as `ps` shows them: `0.0.0.0:8080->80/tcp, 127.0.0.1:9090->90/udp`. */
export function portsText(ports: CniPortMapping[]): string {
  return ports.map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

/** The ports a container's sandbox publishes. */
export function portsOf(sb: SandboxRecord | undefined): CniPortMapping[] {
  return sb?.portMappings ?? [];
}

/** One row of `ps`: the fields of Podman's ps template. */
export interface PsRow {
  ID: string;
  Id: string;
  Image: string;
  ImageID: string;
  Command: string;
  CreatedAt: string;
  CreatedHuman: string;
  RunningFor: string;
  Created: number;
  Status: string;
  State: string;
  Ports: string;
  Names: string;
  Labels: Record<string, string>;
  Mounts: string;
  Networks: string;
  Pod: string;
  PodName: string;
  ExitCode: number;
  Exited: boolean;
  Pid: number;
  AutoRemove: boolean;
  /** peapod-cri's container (ps --external). */
  External: boolean;
}

/** Headers of Podman's ps table. */
export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Id: 'CONTAINER ID',
  Image: 'IMAGE',
  ImageID: 'IMAGE ID',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  CreatedHuman: 'CREATED',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  State: 'STATE',
  Ports: 'PORTS',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  Pod: 'POD ID',
  PodName: 'PODNAME',
  ExitCode: 'EXIT CODE',
  Pid: 'PID',
};

/** The network names of a sandbox as Podman lists them. */
function networksOf(sb: SandboxRecord | undefined): string[] {
  if (!sb) return [];
  if (sb.hostNetwork) return ['host'];
  return sb.networkName ? [sb.networkName] : [];
}

/** The command as `ps` shows it (truncated to 17 characters plus `...` unless `noTrunc`). */
function commandText(rec: ContainerRecord, noTrunc: boolean): string {
  const full = processArgsOf(rec).join(' ');
  return noTrunc || full.length <= 20 ? full : `${full.slice(0, 17)}...`;
}

/**
 * The `ps` row of a container.
 * @param sb its sandbox record (ports, networks, pod)
 */
export function psRow(rec: ContainerRecord, sb: SandboxRecord | undefined, noTrunc: boolean, now = Date.now()): PsRow {
  const createdMs = nsToMs(rec.createdAt);
  const inPod = !hasOwnSandbox(rec) && rec.owner === 'cli';
  return {
    ID: noTrunc ? rec.id : rec.id.slice(0, 12),
    Id: rec.id,
    Image: imageNameOf(rec),
    ImageID: rec.imageId.replace(/^sha256:/, ''),
    Command: commandText(rec, noTrunc),
    CreatedAt: new Date(createdMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    CreatedHuman: timeAgo(createdMs, now),
    RunningFor: humanDuration(now - createdMs),
    Created: Math.floor(createdMs / 1000),
    // peapod-cri's containers (ps --external) are marked: the CLI shows them but never changes them.
    Status: rec.owner === 'cli' ? statusText(rec, now) : `${statusText(rec, now)} (peapod-cri)`,
    State: stateOf(rec),
    Ports: portsText(portsOf(sb)),
    Names: rec.metadata.name,
    Labels: rec.labels,
    Mounts: rec.mounts.map((m) => m.containerPath).join(', '),
    Networks: networksOf(sb).join(', '),
    Pod: inPod ? (noTrunc ? rec.sandboxId : rec.sandboxId.slice(0, 12)) : '',
    PodName: inPod ? (sb?.metadata.name ?? '') : '',
    ExitCode: rec.exitCode,
    Exited: rec.state === 'exited',
    Pid: rec.pid,
    AutoRemove: isAutoremove(rec),
    External: rec.owner !== 'cli',
  };
}

/** `ps --format json`: Podman's objects. */
export function psJson(rec: ContainerRecord, sb: SandboxRecord | undefined, now = Date.now()): Record<string, unknown> {
  const r = psRow(rec, sb, true, now);
  const startedMs = nsToMs(rec.startedAt);
  const finishedMs = nsToMs(rec.finishedAt);
  return {
    AutoRemove: r.AutoRemove,
    Command: processArgsOf(rec),
    CreatedAt: r.CreatedHuman,
    Exited: r.Exited,
    ExitedAt: finishedMs ? Math.floor(finishedMs / 1000) : -62135596800,
    ExitCode: rec.exitCode,
    Id: rec.id,
    Image: r.Image,
    ImageID: r.ImageID,
    IsInfra: false,
    Labels: Object.keys(rec.labels).length ? rec.labels : null,
    Mounts: rec.mounts.map((m) => m.containerPath),
    Names: [rec.metadata.name],
    Namespaces: {},
    Networks: networksOf(sb),
    Pid: rec.pid,
    Pod: r.Pod,
    PodName: r.PodName,
    Ports: portsOf(sb).map((p) => ({ host_ip: p.hostIP ?? '', container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol })),
    Size: null,
    StartedAt: startedMs ? Math.floor(startedMs / 1000) : 0,
    State: r.State,
    Status: r.Status,
    Created: r.Created,
    ...(r.External ? { External: true } : {}),
  };
}

/** `inspect`'s document of a container (Podman's field names and shapes where they exist). */
export function inspectJson(rec: ContainerRecord, sb: SandboxRecord | undefined, oci: OciSpec | undefined, conmonPid: number | undefined): Record<string, unknown> {
  const args = oci?.process.args ?? processArgsOf(rec);
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of portsOf(sb)) (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP ?? '', HostPort: String(p.hostPort) });
  const networks: Record<string, unknown> = {};
  for (const n of networksOf(sb)) if (n !== 'host') networks[n] = { IPAddress: sb?.ip ?? '', Gateway: '', MacAddress: '' };
  const caps = oci?.process.capabilities;
  const mounts = rec.mounts.map((m) => ({ Type: 'bind', Source: m.hostPath, Destination: m.containerPath, Driver: '', Mode: '', Options: ['rbind'], RW: !m.readonly, Propagation: `r${m.propagation}` }));
  return {
    Id: rec.id,
    Created: rfc3339(rec.createdAt),
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      OciVersion: oci?.ociVersion ?? '',
      Status: stateOf(rec),
      Running: rec.state === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: rec.reason === 'OOMKilled',
      Dead: false,
      Pid: rec.pid,
      ConmonPid: conmonPid ?? 0,
      ExitCode: rec.exitCode,
      Error: rec.message,
      StartedAt: rfc3339(rec.startedAt),
      FinishedAt: rfc3339(rec.finishedAt),
      CgroupPath: rec.cgroupsPath,
    },
    Image: rec.imageId.replace(/^sha256:/, ''),
    ImageDigest: rec.imageRef.includes('@') ? rec.imageRef.slice(rec.imageRef.indexOf('@') + 1) : '',
    ImageName: imageNameOf(rec),
    Rootfs: '',
    Pod: hasOwnSandbox(rec) ? '' : rec.sandboxId,
    ResolvConfPath: sb?.resolvConfPath ?? '',
    HostnamePath: sb?.hostnamePath ?? '',
    HostsPath: sb?.hostsPath ?? '',
    OCIConfigPath: `${rec.bundle}/config.json`,
    OCIRuntime: rec.runtimeHandler || 'runc',
    ConmonPidFile: `${rec.bundle}/conmon.pid`,
    PidFile: `${rec.bundle}/pid`,
    Name: rec.metadata.name,
    RestartCount: 0,
    Driver: 'overlay',
    EffectiveCaps: caps?.effective ?? [],
    BoundingCaps: caps?.bounding ?? [],
    GraphDriver: { Name: 'overlay', Data: { MergedDir: rec.rootfs, UpperDir: rec.upperDir, WorkDir: rec.workDir } },
    Mounts: mounts,
    NetworkSettings: {
      IPAddress: sb?.ip ?? '',
      Ports: ports,
      SandboxKey: sb?.namespaces.network ?? '',
      Networks: networks,
    },
    Namespace: '',
    IsInfra: false,
    Config: {
      Hostname: oci?.hostname ?? '',
      User: oci ? `${oci.process.user.uid}:${oci.process.user.gid}` : '',
      Tty: rec.tty,
      OpenStdin: rec.stdin,
      StdinOnce: rec.stdinOnce,
      Env: oci?.process.env ?? [],
      Cmd: args,
      Image: imageNameOf(rec),
      WorkingDir: oci?.process.cwd ?? '/',
      Labels: Object.keys(rec.labels).length ? rec.labels : null,
      Annotations: rec.annotations,
      StopSignal: rec.stopSignal,
      StopTimeout: stopTimeoutOf(rec),
    },
    HostConfig: {
      Binds: rec.mounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readonly ? 'ro' : 'rw'}`),
      NetworkMode: sb?.hostNetwork ? 'host' : networksOf(sb).length ? 'bridge' : 'none',
      PortBindings: ports,
      AutoRemove: isAutoremove(rec),
      Memory: rec.resources?.memoryLimitBytes ?? 0,
      NanoCpus: rec.resources?.cpuQuota && rec.resources.cpuPeriod ? Math.round((rec.resources.cpuQuota / rec.resources.cpuPeriod) * 1e9) : 0,
      CpuQuota: rec.resources?.cpuQuota ?? 0,
      CpuPeriod: rec.resources?.cpuPeriod ?? 0,
      CgroupParent: sb?.cgroupParent ?? '',
    },
  };
}
