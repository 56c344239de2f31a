/**
 * The sandbox record: everything peapod knows about one pod sandbox, written
 * to disk as JSON so it survives a restart of peapod-cri.
 *
 * This is the contract between the sandbox code and the container code: a
 * container of the pod joins `namespaces`, binds `hostnamePath`,
 * `hostsPath`, `resolvConfPath` and `shmPath`, and puts its cgroup under
 * `cgroupParent`.
 */

/** CRI namespace mode names (runtime.v1.NamespaceMode) as peapod keeps them. */
export type NetworkMode = 'POD' | 'NODE';
export type PidMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type IpcMode = 'POD' | 'NODE';

/** CRI PodSandboxState names. */
export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface SandboxRecord {
  /** 64 lowercase hex digits. */
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  state: SandboxState;
  /** Nanoseconds since the epoch, as a decimal string. */
  createdAt: string;
  runtimeHandler: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** PodSandboxConfig.log_directory. */
  logDirectory: string;
  hostNetwork: boolean;
  namespaceOptions: { network: NetworkMode; pid: PidMode; ipc: IpcMode; targetId: string };
  /**
   * Absolute paths of the namespaces containers join: bind-mount pins under
   * the runroot, or /proc/<infraPid>/ns/pid. An absent key means the host's
   * namespace (NODE) or, for pid CONTAINER/TARGET, one chosen per container.
   */
  namespaces: { network?: string; ipc?: string; uts?: string; pid?: string };
  /** Host pid of the pod's init process, when pid mode is POD. */
  infraPid?: number;
  /** Files to bind into containers at /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
  /** The pod's /dev/shm tmpfs directory; absent when ipc is NODE. */
  shmPath?: string;
  /**
   * cgroupsPath prefix for the containers of this pod: with cgroupfs an
   * absolute path such as /peapod/pod-<id>; with systemd a slice name.
   */
  cgroupParent: string;
  /** Sysctls applied to the pod's namespaces (PodSandboxConfig.linux.sysctls). */
  sysctls: Record<string, string>;
  /** Primary pod IP (IPv4 first), from the CNI result. */
  ip?: string;
  /** Further pod IPs (e.g. the IPv6 one of a dual-stack pod). */
  additionalIps: string[];
  /** The PodSandboxConfig as received, for status and CNI DEL. */
  config: unknown;
}

/** Pattern of a sandbox ID. */
export const SANDBOX_ID_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The key that makes a sandbox unique among live ones: the kubelet never
 * runs two sandboxes with the same name, namespace, uid and attempt.
 */
export function metadataKey(m: SandboxRecord['metadata']): string {
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}
