import type { CniNetworkConfList } from '../cni/network-config';
import type { CniBandwidth, CniPortMapping } from '../cni/runtime-config';
import type { Owner } from '../state-db';
import type { DnsSettings } from './etc-files';
import type { SandboxState } from './state';

/**
 * The sandbox record: everything peapod knows about one pod sandbox, kept on
 * disk so it survives a restart of peapod.
 *
 * This is the contract between the sandbox code and the container code: a
 * container of the pod joins `namespaces`, binds `hostnamePath`,
 * `hostsPath`, `resolvConfPath` and `shmPath`, and puts its cgroup under
 * `cgroupParent`.
 */

/** Namespace modes: the CRI's NamespaceMode names, which peapod keeps as its own. */
export type NetworkMode = 'POD' | 'NODE';
/** The PID namespace mode: the pod's, the container's own, the host's, or another container's (TARGET). */
export type PidMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
/** The IPC namespace mode: the pod's, or the host's. */
export type IpcMode = 'POD' | 'NODE';

export type { SandboxState } from './state';

/**
 * A pod sandbox as peapod keeps it (one row of the state database, JSON,
 * written atomically with each transition): its identity and CRI metadata,
 * its state, its namespaces and their pins, its network attachment, the
 * files it mounts into its containers and what is needed to set it up again.
 */
export interface SandboxRecord {
  /** Record format version. */
  version: 2;
  /** 64 lowercase hex digits. */
  id: string;
  /** The front end that made it (see state-db.ts). */
  owner: Owner;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  /** See state.ts; changed only by SandboxStore.transition. */
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
   * the runroot, the PID one included (records of an older peapod name
   * /proc/<infraPid>/ns/pid, only ever used while the infra process is
   * verified alive by pid and start time). An absent key means the host's
   * namespace (NODE) or, for pid CONTAINER/TARGET, one chosen per container.
   */
  namespaces: { network?: string; ipc?: string; uts?: string; pid?: string };
  /** Host pid of the pod's init process, when pid mode is POD. */
  infraPid?: number;
  /** Kernel start time of the infra process (pid-reuse guard), when there is one. */
  infraStartTime?: string;
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
  /** The CNI network the pod is attached to (its conflist name); absent for none or the host's. */
  networkName?: string;
  /** Host ports forwarded into the pod (CNI portmap), as asked for at creation. */
  portMappings?: CniPortMapping[];
  /** Primary pod IP (IPv4 first), from the CNI result. */
  ip?: string;
  /** Further pod IPs (e.g. the IPv6 one of a dual-stack pod). */
  additionalIps: string[];
  /** The front end's request as received (the CRI PodSandboxConfig), opaque to the domain, reported by verbose status. */
  config: unknown;
  /**
   * What a stopped sandbox is set up again from when it is started again
   * (lifecycle.ts startSandbox); absent in records of an older peapod,
   * which cannot be started again.
   */
  setup?: SandboxSetup;
}

/** The parts of a pod's spec its set-up uses beyond the record's other fields (see SandboxSpec; the port mappings are the record's `portMappings`). */
export interface SandboxSetup {
  /** The hostname of its UTS namespace ('' for the host's name at the time). */
  hostname: string;
  /** As SandboxSpec.cniNetwork: absent for the configured directory's first network, null for none. */
  cniNetwork?: CniNetworkConfList | null;
  dns?: DnsSettings;
  bandwidth?: CniBandwidth;
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
