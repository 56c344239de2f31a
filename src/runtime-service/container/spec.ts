/**
 * ContainerSpec: peapod's own description of a container to create, in the
 * terms of the OCI image and runtime specs, for every front end (the model
 * is Podman's SpecGenerator). The CRI server translates a CreateContainer
 * request into it (src/runtime-service/cri/container-config.ts); the CLI
 * builds it from its flags. Everything optional has a default that works
 * without Kubernetes: a container needs a name and an image, nothing else.
 *
 * Host lookups (mount sources, device nodes, seccomp files, the users of the
 * image) are not part of the spec: the container code does them at creation.
 */

/** How a bind mount propagates mounts between host and container (OCI rprivate, rslave, rshared). */
export type MountPropagation = 'private' | 'slave' | 'shared';

/** A host path bound into the container. */
export interface ContainerMount {
  /** Absolute path inside the container. */
  containerPath: string;
  /** Host path (file or directory); symlinks are resolved at creation. */
  hostPath: string;
  /** Default false. */
  readonly?: boolean;
  /** Default private. */
  propagation?: MountPropagation;
  /**
   * Read-only all the way down, submounts included (the runtime's `rro`
   * option, mount_setattr AT_RECURSIVE); needs `readonly` and private
   * propagation. Default false.
   */
  recursiveReadOnly?: boolean;
}

/** A host device node made available in the container. */
export interface ContainerDevice {
  /** The device node on the host (character or block). */
  hostPath: string;
  /** Path inside the container; default the host path. */
  containerPath?: string;
  /** Device cgroup access, e.g. `rwm` (the default). */
  permissions?: string;
}

/**
 * Who the container's process runs as. Absent fields come from the image's
 * `User` (then root); `name` and `uid` are alternatives.
 */
export interface ContainerUser {
  /** A user of the image's /etc/passwd. */
  name?: string;
  uid?: number;
  /** Primary group; only with `name` or `uid` (a group alone would pair an arbitrary user with it). */
  gid?: number;
  /** Added to the groups /etc/group gives the user. */
  supplementalGroups?: number[];
}

/** The seccomp filter: none, peapod's default profile, or a profile file of the host. */
export type SeccompSetting = { type: 'unconfined' } | { type: 'runtime-default' } | { type: 'localhost'; profilePath: string };

/** Security settings of the container's process. */
export interface ContainerSecurity {
  /** Every capability, every device, no masked paths, no seccomp, writable /sys. */
  privileged?: boolean;
  /** Capability names (`NET_ADMIN` or `CAP_NET_ADMIN`); `ALL` in drop empties the default set, in add grants all. */
  capabilities?: { add?: string[]; drop?: string[]; ambient?: string[] };
  noNewPrivileges?: boolean;
  readonlyRootfs?: boolean;
  /** Default unconfined (the CRI's default); ignored when privileged. */
  seccomp?: SeccompSetting;
  /** An AppArmor profile to confine the process with, when the host has AppArmor and the container is not privileged. */
  apparmorProfile?: string;
  /** Paths hidden from the process; empty or absent: peapod's defaults (none when privileged). */
  maskedPaths?: string[];
  /** Paths made read-only; empty or absent: peapod's defaults (none when privileged). */
  readonlyPaths?: string[];
}

/**
 * The process's PID namespace: the pod's (POD), its own (CONTAINER), the
 * host's (NODE), or that of another container of the pod (TARGET).
 */
export type ContainerPidMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

/**
 * Cgroup limits, OCI `linux.resources` in peapod's words. An absent field is
 * not limited (negative quota and swap values mean unlimited, as in OCI).
 */
export interface ContainerResources {
  /** Relative CPU weight (cgroup v1 shares). */
  cpuShares?: number;
  /** Microseconds of CPU per period. */
  cpuQuota?: number;
  /** Microseconds. */
  cpuPeriod?: number;
  /** e.g. `0-3`. */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Bytes. */
  memoryLimitBytes?: number;
  /** Bytes of memory plus swap. */
  memorySwapLimitBytes?: number;
  /** Asked-for oom_score_adj; never set below the caller's own. */
  oomScoreAdj?: number;
  hugepageLimits?: { pageSize: string; limitBytes: number }[];
  /** cgroup v2 files and values, applied only on a v2 host. */
  unified?: Record<string, string>;
}

/** The image of a container as its creator named it (what status reports, besides the resolved ID). */
export interface ContainerImageName {
  /** The reference, ID or digest as given. */
  name: string;
  /** Annotations of the image reference (CRI ImageSpec), kept for status. */
  annotations?: Record<string, string>;
  /** The image as the user typed it, before any resolution by the front end. */
  userSpecified?: string;
}

/** A container to create. */
export interface ContainerSpec {
  /** Unique among the containers of its pod, together with `attempt`. */
  name: string;
  /** The front end's restart count of this container (Kubernetes' metadata.attempt); default 0. */
  attempt?: number;
  image: ContainerImageName;
  /** Replaces the image's Entrypoint; when given without `cmd`, the image's Cmd is dropped too (Kubernetes' and Docker's rule). */
  entrypoint?: string[];
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** Added to the image's environment; a name given here replaces the image's. */
  env?: { name: string; value: string }[];
  /** Default: the image's WorkingDir, else `/`. */
  workingDir?: string;
  tty?: boolean;
  /** Keep a pipe for the process's stdin. */
  stdin?: boolean;
  /** Close stdin when the first attached client leaves. */
  stdinOnce?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Absolute path of the log file (CRI log format); absent: `console.log` in the bundle. */
  logPath?: string;
  mounts?: ContainerMount[];
  devices?: ContainerDevice[];
  user?: ContainerUser;
  /** The signal stop sends first; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  security?: ContainerSecurity;
  /** Default POD. */
  pidMode?: ContainerPidMode;
  /** The container whose PID namespace a TARGET container joins. */
  pidTargetId?: string;
  resources?: ContainerResources;
  /**
   * Namespaced sysctls of this container, applied by the runtime in its
   * namespaces over the pod's (the CLI's default ping range; the CRI has
   * none per container). net.* ones need a network namespace of the pod's own.
   */
  sysctls?: Record<string, string>;
}
