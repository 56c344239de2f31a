import { runHostCommand } from '../../common/host/command';

/** The kind of namespace a sysctl belongs to, or null when it is not namespaced. */
export type SysctlNamespace = 'net' | 'ipc' | null;

/** IPC-namespaced sysctls, by exact name (see the kubelet's sysctl allowlist). */
const IPC_SYSCTLS = new Set(['kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced', 'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem']);

/** Normalises a sysctl name: `net/ipv4/ip_forward` → `net.ipv4.ip_forward`. */
export function normaliseSysctlName(name: string): string {
  return name.includes('/') ? name.replace(/\//g, '.') : name;
}

/**
 * Which namespace a sysctl is in: `net.*` the network namespace;
 * kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* the IPC namespace;
 * anything else is node-wide (null).
 */
export function sysctlNamespace(name: string): SysctlNamespace {
  const n = normaliseSysctlName(name);
  if (n.startsWith('net.')) return 'net';
  if (IPC_SYSCTLS.has(n) || n.startsWith('fs.mqueue.')) return 'ipc';
  return null;
}

/**
 * Checks one sysctl of a pod against its namespaces.
 * @returns null when it can be applied, else why not (for INVALID_ARGUMENT):
 *   a node-wide sysctl, a net.* one for a host-network pod, an IPC one for a
 *   host-IPC pod.
 */
export function sysctlProblem(name: string, hostNetwork: boolean, hostIpc: boolean): string | null {
  const ns = sysctlNamespace(name);
  if (ns === null) return `sysctl "${name}" is not namespaced; only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per pod`;
  if (ns === 'net' && hostNetwork) return `sysctl "${name}": net.* sysctls cannot be set for a pod on the host network`;
  if (ns === 'ipc' && hostIpc) return `sysctl "${name}": IPC sysctls cannot be set for a pod on the host IPC namespace`;
  return null;
}

/** The first problem of a pod's sysctls (see sysctlProblem), or null when all can be applied. */
export function sysctlsProblem(sysctls: Record<string, string>, hostNetwork: boolean, hostIpc: boolean): string | null {
  for (const name of Object.keys(sysctls)) {
    const problem = sysctlProblem(name, hostNetwork, hostIpc);
    if (problem) return problem;
  }
  return null;
}

/**
 * Applies sysctls inside a pod's namespaces:
 * `nsenter --net=PIN --ipc=PIN sysctl -w NAME=VALUE` (writes to /proc/sys
 * act on the writer's own network and IPC namespaces).
 * @throws HostCommandError naming the sysctl when one cannot be set.
 */
export async function applySysctls(sysctls: Record<string, string>, ns: { network?: string; ipc?: string }): Promise<void> {
  for (const [name, value] of Object.entries(sysctls)) {
    const args: string[] = [];
    if (ns.network) args.push(`--net=${ns.network}`);
    if (ns.ipc) args.push(`--ipc=${ns.ipc}`);
    await runHostCommand('nsenter', [...args, 'sysctl', '-w', `${normaliseSysctlName(name)}=${value}`]);
  }
}
