import type { PodSandboxConfig__Output } from '../../generated/runtime/v1/PodSandboxConfig';
import { invalidArgument } from '../../common/errors';
import { bandwidthFromAnnotations, CniBandwidth, CniPortMapping } from '../cni/runtime-config';
import { CheckedSandboxSpec, checkSandboxSpec } from '../sandbox/spec';
import { withCriField } from './fields';

const NS = 'config.linux.security_context.namespace_options';

/** The CRI path of a SandboxSpec field, for error messages. */
export function sandboxFieldPath(field: string): string | undefined {
  const fixed: Record<string, string> = {
    'metadata.name': 'config.metadata.name',
    hostname: 'config.hostname',
    logDirectory: 'config.log_directory',
    cgroupParent: 'config.linux.cgroup_parent',
    'namespaceOptions.targetId': `${NS}.target_id`,
  };
  if (fixed[field]) return fixed[field];
  const sysctl = /^sysctls(\[.*\])$/.exec(field);
  if (sysctl) return `config.linux.sysctls${sysctl[1]}`;
  const pm = /^portMappings\[(\d+)\]\.(containerPort|hostPort|hostIP)$/.exec(field);
  if (pm) return `config.port_mappings[${pm[1]}].${{ containerPort: 'container_port', hostPort: 'host_port', hostIP: 'host_ip' }[pm[2]]}`;
  return undefined;
}

/**
 * Translates a PodSandboxConfig into peapod's SandboxSpec, checked and with
 * its defaults filled in (see checkSandboxSpec). Kubernetes always sends
 * name, namespace and uid: they are required here. Port mappings without a
 * host port (the kubelet sends every container port) map nothing and are
 * dropped after the check; the bandwidth annotations become CNI bandwidth
 * limits.
 * @throws InvalidArgumentError naming the CRI field at fault: missing
 *   metadata fields, a hostname that is not an RFC 1123 subdomain of at most 64
 *   characters, unsupported namespace modes, sysctls that are not namespaced
 *   or do not fit the namespaces, bad port mappings or bandwidth annotations.
 */
export function sandboxSpecOf(config: PodSandboxConfig__Output | null): CheckedSandboxSpec {
  if (!config) throw invalidArgument('config is required');
  const m = config.metadata;
  if (!m) throw invalidArgument('config.metadata is required');
  for (const f of ['name', 'namespace', 'uid'] as const) if (!m[f]) throw invalidArgument(`config.metadata.${f} is required`);
  const nsOpts = config.linux?.security_context?.namespace_options;
  const network = nsOpts?.network ?? 'POD';
  const pid = nsOpts?.pid ?? 'POD';
  const ipc = nsOpts?.ipc ?? 'POD';
  if (network !== 'POD' && network !== 'NODE') throw invalidArgument(`${NS}.network: mode ${network} is not supported for a pod (POD or NODE)`);
  if (ipc !== 'POD' && ipc !== 'NODE') throw invalidArgument(`${NS}.ipc: mode ${ipc} is not supported for a pod (POD or NODE)`);
  if (nsOpts?.userns_options && nsOpts.userns_options.mode !== 'NODE') {
    throw invalidArgument(`${NS}.userns_options: user namespaces are not supported (mode must be NODE)`);
  }
  let bandwidth: CniBandwidth | undefined;
  try {
    bandwidth = bandwidthFromAnnotations(config.annotations);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }
  const portMappings: CniPortMapping[] = config.port_mappings.map((pm) => {
    const mapping: CniPortMapping = { hostPort: pm.host_port, containerPort: pm.container_port, protocol: String(pm.protocol).toLowerCase() };
    if (pm.host_ip !== '') mapping.hostIP = pm.host_ip;
    return mapping;
  });
  const d = config.dns_config;
  const dns = d && (d.servers.length || d.searches.length || d.options.length) ? { servers: [...d.servers], searches: [...d.searches], options: [...d.options] } : undefined;
  let spec: CheckedSandboxSpec;
  try {
    spec = checkSandboxSpec({
      metadata: { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt },
      hostname: config.hostname,
      logDirectory: config.log_directory,
      namespaceOptions: { network, pid, ipc, targetId: nsOpts?.target_id ?? '' },
      dns,
      portMappings,
      bandwidth,
      sysctls: { ...(config.linux?.sysctls ?? {}) },
      cgroupParent: config.linux?.cgroup_parent ?? '',
      labels: { ...config.labels },
      annotations: { ...config.annotations },
    });
  } catch (err) {
    throw withCriField(err, sandboxFieldPath);
  }
  return { ...spec, portMappings: spec.portMappings.filter((pm) => pm.hostPort !== 0) };
}
