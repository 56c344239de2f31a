import * as path from 'node:path';
import type { ContainerConfig__Output } from '../../generated/runtime/v1/ContainerConfig';
import type { LinuxContainerResources__Output } from '../../generated/runtime/v1/LinuxContainerResources';
import { invalidArgument } from '../../common/errors';
import { defaultSeccompProfile } from './seccomp';
import type { OciCapabilities, OciDevice, OciDeviceRule, OciImageConfig, OciMount, OciNamespace, OciResources, OciSeccomp, OciSpec, OciUser } from './types';

/** The capabilities a container gets by default (containerd's and Docker's set). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Paths of /proc and /sys hidden from an unprivileged container (runtime-spec `linux.maskedPaths`). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

/** Paths made read-only in an unprivileged container (runtime-spec `linux.readonlyPaths`). */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A device of the host as the container should see it, already stat'ed by the caller. */
export interface HostDevice {
  /** Path inside the container. */
  containerPath: string;
  /** 'c' (character) or 'b' (block). */
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** File mode bits of the host node. */
  fileMode: number;
  /** cgroup access string, e.g. `rwm`. */
  permissions: string;
}

/** A CRI mount whose host path has been checked and resolved by the caller. */
export interface ResolvedMount {
  containerPath: string;
  /** Absolute host path, symlinks resolved. */
  hostPath: string;
  readonly: boolean;
  propagation: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}

/** What the pod sandbox contributes to its containers' specs. */
export interface SpecSandbox {
  id: string;
  /** Namespace files to join; an absent entry means the host's namespace. */
  namespaces: { network?: string; ipc?: string; uts?: string; pid?: string };
  hostnamePath?: string;
  hostsPath?: string;
  resolvConfPath?: string;
  /** Host directory mounted at /dev/shm; a private tmpfs when absent. */
  shmPath?: string;
  /** Pod-level sysctls (PodSandboxConfig linux.sysctls). */
  sysctls: Record<string, string>;
}

/** Everything `buildSpec` needs; all host lookups are done by the caller, so building is pure. */
export interface SpecInput {
  containerId: string;
  config: ContainerConfig__Output;
  image: OciImageConfig;
  sandbox: SpecSandbox;
  /** Mounted rootfs (absolute). */
  rootfsPath: string;
  /** The resolved user of the container process. */
  user: OciUser;
  /** HOME of that user from the rootfs's /etc/passwd, when found. */
  home?: string;
  /** The CRI mounts, validated and resolved (same order as `config.mounts`). */
  mounts: ResolvedMount[];
  /** The CRI devices, stat'ed. */
  devices: HostDevice[];
  /** `linux.cgroupsPath` for this container. */
  cgroupsPath: string;
  /** The pid namespace file of the TARGET container when pid mode is TARGET. */
  targetPidNamespace?: string;
  /** The host's oom_score_adj floor: peapod cannot lower a process below it. */
  minOomScoreAdj: number;
  /** Every capability the host kernel knows (`CAP_…`), for privileged and `ALL`. */
  allCapabilities: readonly string[];
  /** The host's cgroup version: `unified` resources apply only on v2. */
  cgroupV2: boolean;
  /** Whether AppArmor is enabled on the host. */
  appArmorEnabled: boolean;
  /** Whether the memory cgroup accounts swap (memory.memsw.* on v1); default true. */
  swapControl?: boolean;
  /** The seccomp profile JSON read from a Localhost profile's file, when one was named. */
  localhostSeccomp?: OciSeccomp;
}

/** Normalizes a CRI capability name (`NET_ADMIN`, `cap_net_admin`) to the OCI form `CAP_NET_ADMIN`. */
export function capabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * The capability set of a container: the default set, minus drops, plus adds;
 * `ALL` in drop empties it first, `ALL` in add grants every capability.
 * Privileged containers get every capability.
 */
export function containerCapabilities(
  add: readonly string[],
  drop: readonly string[],
  privileged: boolean,
  allCapabilities: readonly string[],
): string[] {
  if (privileged) return [...allCapabilities];
  let caps = new Set<string>(DEFAULT_CAPABILITIES);
  const dropNames = drop.map(capabilityName);
  const addNames = add.map(capabilityName);
  if (dropNames.includes('CAP_ALL')) caps = new Set();
  else for (const d of dropNames) caps.delete(d);
  if (addNames.includes('CAP_ALL')) for (const c of allCapabilities) caps.add(c);
  else for (const a of addNames) caps.add(a);
  return [...caps].sort();
}

/**
 * The process arguments: the request's command replaces the image Entrypoint
 * and its args replace the image Cmd; a command without args drops the
 * image's Cmd (the Kubernetes rule).
 *
 * @throws INVALID_ARGUMENT when neither the request nor the image give any.
 */
export function processArgs(config: Pick<ContainerConfig__Output, 'command' | 'args'>, image: OciImageConfig): string[] {
  const entrypoint = config.command.length > 0 ? config.command : image.config?.Entrypoint ?? [];
  const cmd = config.args.length > 0 ? config.args : config.command.length > 0 ? [] : image.config?.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalidArgument('config.command and config.args are empty and the image has no Entrypoint or Cmd');
  return args;
}

/** Image env, then request env (a request variable replaces the image's of the same name); PATH defaulted. */
export function processEnv(config: Pick<ContainerConfig__Output, 'envs' | 'tty'>, image: OciImageConfig, home?: string): string[] {
  const env = new Map<string, string>();
  for (const e of image.config?.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const kv of config.envs) env.set(kv.key, typeof kv.value === 'string' ? kv.value : Buffer.from(kv.value).toString('utf8'));
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  if (config.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  if (home !== undefined && !env.has('HOME')) env.set('HOME', home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function int(value: string | undefined): number {
  return value === undefined || value === '' ? 0 : Number(value);
}

/**
 * The OCI `linux.resources` of CRI LinuxContainerResources (values of 0 are
 * "not set"). `unified` is kept only on cgroup v2. Memory swap is the OCI
 * memory+swap total, as in the CRI field; it is dropped when the host has no
 * swap accounting (`swapControl` false), where runc would fail to set it.
 */
export function ociResources(res: LinuxContainerResources__Output | null | undefined, cgroupV2: boolean, swapControl = true): OciResources {
  const out: OciResources = {};
  if (!res) return out;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (int(res.cpu_shares) > 0) cpu.shares = int(res.cpu_shares);
  if (int(res.cpu_quota) !== 0) cpu.quota = int(res.cpu_quota);
  if (int(res.cpu_period) > 0) cpu.period = int(res.cpu_period);
  if (res.cpuset_cpus) cpu.cpus = res.cpuset_cpus;
  if (res.cpuset_mems) cpu.mems = res.cpuset_mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  const memory: NonNullable<OciResources['memory']> = {};
  if (int(res.memory_limit_in_bytes) > 0) memory.limit = int(res.memory_limit_in_bytes);
  if (swapControl && int(res.memory_swap_limit_in_bytes) !== 0) memory.swap = int(res.memory_swap_limit_in_bytes);
  if (Object.keys(memory).length > 0) out.memory = memory;
  if (res.hugepage_limits.length > 0) out.hugepageLimits = res.hugepage_limits.map((h) => ({ pageSize: h.page_size, limit: int(h.limit) }));
  if (cgroupV2 && Object.keys(res.unified).length > 0) out.unified = { ...res.unified };
  return out;
}

function propagationOption(p: ResolvedMount['propagation']): string {
  if (p === 'PROPAGATION_BIDIRECTIONAL') return 'rshared';
  if (p === 'PROPAGATION_HOST_TO_CONTAINER') return 'rslave';
  return 'rprivate';
}

/**
 * Reads the deprecated `seccomp_profile_path` field: "" and "unconfined" are
 * Unconfined, "runtime/default" and "docker/default" RuntimeDefault,
 * "localhost/<path>" a profile file; anything else is refused, as the
 * kubelet's own values never take another form.
 * @throws INVALID_ARGUMENT naming the field.
 */
function legacySeccompType(path: string): 'Unconfined' | 'RuntimeDefault' | 'Localhost' {
  if (path === '' || path === 'unconfined') return 'Unconfined';
  if (path === 'runtime/default' || path === 'docker/default') return 'RuntimeDefault';
  if (path.startsWith('localhost/')) return 'Localhost';
  throw invalidArgument(`config.linux.security_context.seccomp_profile_path "${path}" must be "", "unconfined", "runtime/default", "docker/default" or "localhost/<path>"`);
}

/**
 * Builds the OCI runtime-spec 1.0.2 config.json of a CRI container.
 *
 * Follows the CRI ContainerConfig fields: process (args, env, cwd, user,
 * terminal, capabilities, no_new_privs, apparmor, oom_score_adj clamped to
 * `minOomScoreAdj`), root (readonly_rootfs), mounts (the standard Linux
 * file systems, the pod's /dev/shm, hosts, hostname, resolv.conf, then the
 * CRI mounts, which win over the defaults at the same path), namespaces
 * joined by path (pid by NamespaceOption), devices, resources, seccomp,
 * masked and read-only paths (none when privileged), sysctls and annotations.
 *
 * @throws INVALID_ARGUMENT for a Localhost seccomp profile that was not supplied.
 */
export function buildSpec(input: SpecInput): OciSpec {
  const { config, sandbox } = input;
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  const caps = containerCapabilities(
    sc?.capabilities?.add_capabilities ?? [],
    sc?.capabilities?.drop_capabilities ?? [],
    privileged,
    input.allCapabilities,
  );
  const capabilities: OciCapabilities = {
    bounding: caps,
    effective: caps,
    permitted: caps,
    inheritable: input.user.uid === 0 ? caps : [],
    ambient: (sc?.capabilities?.add_ambient_capabilities ?? []).map(capabilityName).filter((c) => caps.includes(c)),
  };

  const requestedOom = int(config.linux?.resources?.oom_score_adj);
  const oomScoreAdj = Math.max(requestedOom, input.minOomScoreAdj);

  const workingDir = config.working_dir || input.image.config?.WorkingDir || '/';

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: config.tty,
      user: input.user,
      args: processArgs(config, input.image),
      env: processEnv(config, input.image, input.home),
      cwd: workingDir,
      capabilities,
      noNewPrivileges: sc?.no_new_privs ?? false,
      oomScoreAdj,
    },
    root: { path: input.rootfsPath, readonly: sc?.readonly_rootfs ?? false },
    mounts: [],
    annotations: { ...config.annotations, 'io.kubernetes.cri.sandbox-id': sandbox.id, 'io.kubernetes.cri.container-type': 'container' },
    linux: { namespaces: [] },
  };

  // AppArmor: only when the host has it; RuntimeDefault and Localhost name a profile.
  if (input.appArmorEnabled && !privileged) {
    const aa = sc?.apparmor ?? null;
    if (aa?.profile_type === 'Localhost' && aa.localhost_ref) spec.process.apparmorProfile = aa.localhost_ref;
    else if (aa?.profile_type !== 'Unconfined' && sc?.apparmor_profile?.startsWith('localhost/')) spec.process.apparmorProfile = sc.apparmor_profile.slice('localhost/'.length);
  }

  // Mounts: defaults first, then the pod's files, then the CRI mounts (which win).
  const criDests = new Set(input.mounts.map((m) => path.posix.normalize(m.containerPath)));
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
  ];
  if (sandbox.shmPath) mounts.push({ destination: '/dev/shm', type: 'bind', source: sandbox.shmPath, options: ['rbind', 'rprivate', 'rw'] });
  else mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] });
  const podFiles: [string, string | undefined][] = [
    ['/etc/hosts', sandbox.hostsPath],
    ['/etc/hostname', sandbox.hostnamePath],
    ['/etc/resolv.conf', sandbox.resolvConfPath],
  ];
  for (const [dest, src] of podFiles) {
    if (src && !criDests.has(dest)) mounts.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate', 'rw'] });
  }
  const filtered = mounts.filter((m) => !criDests.has(m.destination));
  let rootPropagation: string | undefined;
  for (const m of input.mounts) {
    const prop = propagationOption(m.propagation);
    if (prop === 'rshared') rootPropagation = 'rshared';
    else if (prop === 'rslave' && rootPropagation !== 'rshared') rootPropagation = 'rslave';
    filtered.push({ destination: m.containerPath, type: 'bind', source: m.hostPath, options: ['rbind', prop, m.readonly ? 'ro' : 'rw'] });
  }
  spec.mounts = filtered;
  if (rootPropagation) spec.linux.rootfsPropagation = rootPropagation;

  // Namespaces: mount always new; network, ipc, uts joined from the pod; pid by mode.
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (sandbox.namespaces.network) ns.push({ type: 'network', path: sandbox.namespaces.network });
  if (sandbox.namespaces.ipc) ns.push({ type: 'ipc', path: sandbox.namespaces.ipc });
  if (sandbox.namespaces.uts) ns.push({ type: 'uts', path: sandbox.namespaces.uts });
  // No namespace_options at all reads as the proto default, POD (as containerd
  // and CRI-O read it); the kubelet always sends the mode it wants.
  const pidMode = sc?.namespace_options?.pid ?? 'POD';
  if (pidMode === 'POD') {
    ns.push(sandbox.namespaces.pid ? { type: 'pid', path: sandbox.namespaces.pid } : { type: 'pid' });
  } else if (pidMode === 'TARGET') {
    if (!input.targetPidNamespace) throw invalidArgument('config.linux.security_context.namespace_options.target_id names no running container');
    ns.push({ type: 'pid', path: input.targetPidNamespace });
  } else if (pidMode === 'CONTAINER') {
    ns.push({ type: 'pid' });
  }
  spec.linux.namespaces = ns;

  // Devices and the device cgroup.
  const deviceRules: OciDeviceRule[] = privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }];
  const devices: OciDevice[] = [];
  for (const d of input.devices) {
    devices.push({ path: d.containerPath, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: 0, gid: 0 });
    if (!privileged) deviceRules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions || 'rwm' });
  }
  if (devices.length > 0) spec.linux.devices = devices;
  spec.linux.resources = { devices: deviceRules, ...ociResources(config.linux?.resources, input.cgroupV2, input.swapControl ?? true) };
  spec.linux.cgroupsPath = input.cgroupsPath;
  if (Object.keys(sandbox.sysctls).length > 0) spec.linux.sysctl = { ...sandbox.sysctls };

  // Seccomp: RuntimeDefault → ours; Unconfined (the CRI default when nothing is set) → none; Localhost → the given file.
  if (!privileged) {
    const profile = sc?.seccomp ?? null;
    const legacy = sc?.seccomp_profile_path ?? '';
    const type = profile ? profile.profile_type : legacySeccompType(legacy);
    if (type === 'RuntimeDefault') spec.linux.seccomp = defaultSeccompProfile(caps);
    else if (type === 'Localhost') {
      if (!input.localhostSeccomp) throw invalidArgument('config.linux.security_context.seccomp.localhost_ref names no readable profile');
      spec.linux.seccomp = input.localhostSeccomp;
    }
  }

  if (!privileged) {
    spec.linux.maskedPaths = sc && sc.masked_paths.length > 0 ? [...sc.masked_paths] : [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = sc && sc.readonly_paths.length > 0 ? [...sc.readonly_paths] : [...DEFAULT_READONLY_PATHS];
  }
  return spec;
}
