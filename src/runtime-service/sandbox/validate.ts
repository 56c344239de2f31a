import * as net from 'node:net';
import type { PodSandboxConfig__Output } from '../../generated/runtime/v1/PodSandboxConfig';
import { invalidArgument } from '../../common/errors';
import type { IpcMode, NetworkMode, PidMode } from './record';
import { hostnameProblem } from './etc-files';
import { sysctlsProblem } from './sysctls';
import { bandwidthFromAnnotations, CniBandwidth, CniPortMapping } from '../cni/runtime-config';

/** What RunPodSandbox builds, checked and normalised from a PodSandboxConfig. */
export interface SandboxSpec {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  /** '' when the pod named none. */
  hostname: string;
  logDirectory: string;
  namespaceOptions: { network: NetworkMode; pid: PidMode; ipc: IpcMode; targetId: string };
  dns?: { servers: string[]; searches: string[]; options: string[] };
  portMappings: CniPortMapping[];
  bandwidth?: CniBandwidth;
  sysctls: Record<string, string>;
  cgroupParent: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * Checks a PodSandboxConfig and normalises it.
 * @throws PeapodError INVALID_ARGUMENT naming the field at fault: missing
 *   metadata fields, a hostname that is not an RFC 1123 label of at most 63
 *   characters, unsupported namespace modes, sysctls that are not namespaced
 *   or do not fit the namespaces, bad port mappings or bandwidth annotations.
 */
export function sandboxSpecOf(config: PodSandboxConfig__Output | null): SandboxSpec {
  if (!config) throw invalidArgument('config is required');
  const m = config.metadata;
  if (!m) throw invalidArgument('config.metadata is required');
  for (const f of ['name', 'namespace', 'uid'] as const) if (!m[f]) throw invalidArgument(`config.metadata.${f} is required`);
  if (config.hostname !== '') {
    const problem = hostnameProblem(config.hostname);
    if (problem) throw invalidArgument(problem);
  }
  const nsOpts = config.linux?.security_context?.namespace_options;
  const network = nsOpts?.network ?? 'POD';
  const pid = nsOpts?.pid ?? 'POD';
  const ipc = nsOpts?.ipc ?? 'POD';
  if (network !== 'POD' && network !== 'NODE') throw invalidArgument(`config.linux.security_context.namespace_options.network: mode ${network} is not supported for a pod (POD or NODE)`);
  if (ipc !== 'POD' && ipc !== 'NODE') throw invalidArgument(`config.linux.security_context.namespace_options.ipc: mode ${ipc} is not supported for a pod (POD or NODE)`);
  const targetId = nsOpts?.target_id ?? '';
  if (pid === 'TARGET' && targetId === '') throw invalidArgument('config.linux.security_context.namespace_options.target_id is required with pid mode TARGET');
  if (nsOpts?.userns_options && nsOpts.userns_options.mode !== 'NODE') {
    throw invalidArgument('config.linux.security_context.namespace_options.userns_options: user namespaces are not supported (mode must be NODE)');
  }
  const sysctls = config.linux?.sysctls ?? {};
  const sysctlProblem = sysctlsProblem(sysctls, network === 'NODE', ipc === 'NODE');
  if (sysctlProblem) throw invalidArgument(sysctlProblem);

  const portMappings: CniPortMapping[] = [];
  config.port_mappings.forEach((pm, i) => {
    const field = `config.port_mappings[${i}]`;
    if (pm.container_port <= 0 || pm.container_port > 65535) throw invalidArgument(`${field}.container_port ${pm.container_port} is not a port number`);
    if (pm.host_port < 0 || pm.host_port > 65535) throw invalidArgument(`${field}.host_port ${pm.host_port} is not a port number`);
    if (pm.host_ip !== '' && net.isIP(pm.host_ip) === 0) throw invalidArgument(`${field}.host_ip "${pm.host_ip}" is not an IP address`);
    if (pm.host_port === 0) return; // no host port: nothing to map
    const mapping: CniPortMapping = { hostPort: pm.host_port, containerPort: pm.container_port, protocol: String(pm.protocol).toLowerCase() };
    if (pm.host_ip !== '') mapping.hostIP = pm.host_ip;
    portMappings.push(mapping);
  });

  let bandwidth: CniBandwidth | undefined;
  try {
    bandwidth = bandwidthFromAnnotations(config.annotations);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }

  const d = config.dns_config;
  const dns = d && (d.servers.length || d.searches.length || d.options.length) ? { servers: [...d.servers], searches: [...d.searches], options: [...d.options] } : undefined;
  return {
    metadata: { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt },
    hostname: config.hostname,
    logDirectory: config.log_directory,
    namespaceOptions: { network, pid, ipc, targetId },
    dns,
    portMappings,
    bandwidth,
    sysctls: { ...sysctls },
    cgroupParent: config.linux?.cgroup_parent ?? '',
    labels: { ...config.labels },
    annotations: { ...config.annotations },
  };
}
