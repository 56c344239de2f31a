/**
 * The parts of the OCI runtime-spec 1.0.2 `config.json` that peapod writes
 * (https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config.md and
 * config-linux.md). Field names are the spec's JSON names.
 */

/** `process.user`. */
export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

/** `process.capabilities`: capability names such as `CAP_CHOWN`. */
export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

/** `process`. */
export interface OciProcess {
  terminal: boolean;
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
}

/** One entry of `mounts`. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** One entry of `linux.namespaces`: without `path` a new namespace is made. */
export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** One entry of `linux.devices`. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'p' | 'u';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One entry of `linux.resources.devices` (the device cgroup rules). */
export interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** `linux.resources` (cgroup limits). Numbers are the spec's units: bytes, microseconds, shares. */
export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  unified?: Record<string, string>;
}

/** `linux.seccomp`. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls?: { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }[];
}

/** `linux`. */
export interface OciLinux {
  namespaces: OciNamespace[];
  devices?: OciDevice[];
  resources?: OciResources;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  seccomp?: OciSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

/** The whole `config.json`. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}

/** The part of an OCI image config (image-spec `config.md`) that a container uses. */
export interface OciImageConfig {
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Labels?: Record<string, string> | null;
  };
}
