/**
 * SandboxSpec: peapod's own description of a pod sandbox to build, for every
 * front end. The CRI server translates a RunPodSandbox config into it
 * (src/runtime-service/cri/pod-sandbox-config.ts); the CLI builds it from
 * its flags. Only the name is required: Kubernetes' namespace, uid and
 * attempt, its log directory and its namespace modes have defaults.
 */
import * as net from 'node:net';
import { invalidArgument } from '../../common/errors';
import type { CniNetworkConfList } from '../cni/network-config';
import type { CniBandwidth, CniPortMapping } from '../cni/runtime-config';
import { DnsSettings, hostnameProblem } from './etc-files';
import type { IpcMode, NetworkMode, PidMode } from './record';
import { sysctlProblem } from './sysctls';
import { quoteInput } from '../../common/bounded-text';

/** What identifies a pod: with its namespace, uid and attempt, unique among peapod's pods. */
export interface SandboxMetadata {
  name: string;
  /** Kubernetes namespace; default ''. */
  namespace?: string;
  /** Kubernetes pod UID; default ''. */
  uid?: string;
  /** The front end's attempt counter; default 0. */
  attempt?: number;
}

/** The namespace modes of a pod (the CRI's NamespaceMode names, which peapod keeps). */
export interface SandboxNamespaceOptions {
  /** POD: a network namespace of its own, set up by CNI; NODE: the host's. Default POD. */
  network?: NetworkMode;
  /** POD: one PID namespace for the pod (with an init process); CONTAINER: one per container; NODE: the host's; TARGET: a container's. Default POD. */
  pid?: PidMode;
  /** Default POD. */
  ipc?: IpcMode;
  /** The container whose PID namespace TARGET names. */
  targetId?: string;
}

/** A pod sandbox to build. */
export interface SandboxSpec {
  metadata: SandboxMetadata;
  /** Its hostname (an RFC 1123 label, or the FQDN the kubelet sends for setHostnameAsFQDN: at most 64 characters); default the host's. */
  hostname?: string;
  /** Directory the front end keeps container logs in (the kubelet's log_directory); made if missing. */
  logDirectory?: string;
  namespaceOptions?: SandboxNamespaceOptions;
  /** /etc/resolv.conf of the pod; default the host's. */
  dns?: DnsSettings;
  /**
   * The CNI network a pod with a network namespace of its own is attached
   * to. Absent: the first configuration of the `network.cni_conf_dir`
   * directory (the CRI's way, looked up at creation). A list: that network
   * (a front end with networks of its own, e.g. the CLI's). null: no CNI at
   * all, the pod's network namespace has only loopback (Podman's
   * `--network none`). Ignored when the network mode is NODE.
   */
  cniNetwork?: CniNetworkConfList | null;
  /** Host ports forwarded into the pod network (CNI portmap). */
  portMappings?: CniPortMapping[];
  /** Traffic shaping of the pod network (CNI bandwidth). */
  bandwidth?: CniBandwidth;
  /** Namespaced sysctls set in the pod's network and IPC namespaces. */
  sysctls?: Record<string, string>;
  /** Parent of the pod cgroup (a path with cgroupfs, a slice with systemd); default peapod's. */
  cgroupParent?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A SandboxSpec with every default filled in. */
export interface CheckedSandboxSpec {
  metadata: Required<SandboxMetadata>;
  hostname: string;
  logDirectory: string;
  namespaceOptions: Required<SandboxNamespaceOptions>;
  dns?: DnsSettings;
  /** As SandboxSpec.cniNetwork: undefined for the configured directory's, null for none. */
  cniNetwork?: CniNetworkConfList | null;
  portMappings: CniPortMapping[];
  bandwidth?: CniBandwidth;
  sysctls: Record<string, string>;
  cgroupParent: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * Checks a SandboxSpec and fills in its defaults.
 * @throws InvalidArgumentError with the field at fault: `metadata.name`
 *   empty, `hostname` not an RFC 1123 subdomain of at most 64 characters (etc-files.ts),
 *   `namespaceOptions.targetId` missing for pid TARGET, `sysctls["NAME"]` not
 *   namespaced or not fitting the pod's namespaces,
 *   `portMappings[i].containerPort` / `.hostPort` / `.hostIP` out of range,
 *   `portMappings` given for a pod without a CNI network (cniNetwork null).
 */
export function checkSandboxSpec(spec: SandboxSpec): CheckedSandboxSpec {
  const m = spec.metadata;
  if (!m?.name) throw invalidArgument('a pod needs a name', { field: 'metadata.name' });
  const hostname = spec.hostname ?? '';
  if (hostname !== '') {
    const problem = hostnameProblem(hostname);
    if (problem) throw invalidArgument(problem, { field: 'hostname' });
  }
  const o = spec.namespaceOptions ?? {};
  const namespaceOptions: Required<SandboxNamespaceOptions> = { network: o.network ?? 'POD', pid: o.pid ?? 'POD', ipc: o.ipc ?? 'POD', targetId: o.targetId ?? '' };
  if (namespaceOptions.pid === 'TARGET' && namespaceOptions.targetId === '') throw invalidArgument('pid mode TARGET needs the container whose PID namespace to join', { field: 'namespaceOptions.targetId' });
  const sysctls = { ...spec.sysctls };
  for (const name of Object.keys(sysctls)) {
    const problem = sysctlProblem(name, namespaceOptions.network === 'NODE', namespaceOptions.ipc === 'NODE');
    if (problem) throw invalidArgument(problem, { field: `sysctls[${quoteInput(name)}]` });
  }
  const portMappings = (spec.portMappings ?? []).map((pm, i) => {
    const field = `portMappings[${i}]`;
    if (!(pm.containerPort > 0 && pm.containerPort <= 65535)) throw invalidArgument(`container port ${pm.containerPort} is not a port number`, { field: `${field}.containerPort` });
    if (!(pm.hostPort >= 0 && pm.hostPort <= 65535)) throw invalidArgument(`host port ${pm.hostPort} is not a port number`, { field: `${field}.hostPort` });
    if (pm.hostIP !== undefined && pm.hostIP !== '' && net.isIP(pm.hostIP) === 0) throw invalidArgument(`host IP ${quoteInput(pm.hostIP)} is not an IP address`, { field: `${field}.hostIP` });
    return { ...pm };
  });
  if (portMappings.length > 0 && spec.cniNetwork === null && namespaceOptions.network === 'POD') {
    throw invalidArgument('port mappings need a CNI network: a pod without one (network none) cannot publish ports', { field: 'portMappings' });
  }
  return {
    metadata: { name: m.name, namespace: m.namespace ?? '', uid: m.uid ?? '', attempt: m.attempt ?? 0 },
    hostname,
    logDirectory: spec.logDirectory ?? '',
    namespaceOptions,
    dns: spec.dns,
    cniNetwork: spec.cniNetwork,
    portMappings,
    bandwidth: spec.bandwidth,
    sysctls,
    cgroupParent: spec.cgroupParent ?? '',
    labels: { ...spec.labels },
    annotations: { ...spec.annotations },
  };
}
