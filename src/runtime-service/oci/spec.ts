import * as path from 'node:path';
import { invalidArgument } from '../../common/errors';
import type { ContainerResources, ContainerSpec, MountPropagation } from '../container/spec';
import { defaultSeccompProfile } from './seccomp';
import type { OciCapabilities, OciDevice, OciDeviceRule, OciImageConfig, OciMount, OciNamespace, OciResources, OciSeccomp, OciSpec, OciUser } from './types';
import { quoteInput } from '../../common/bounded-text';

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

/** A mount of the spec whose host path has been checked and resolved by the caller. */
export interface ResolvedMount {
  containerPath: string;
  /** Absolute host path, symlinks resolved. */
  hostPath: string;
  readonly: boolean;
  propagation: MountPropagation;
  /** Read-only recursively: the runtime's `rro` option (runc 1.1+, Linux 5.12+). */
  recursiveReadOnly?: boolean;
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
  /** The pod's sysctls (applied to its namespaces). */
  sysctls: Record<string, string>;
}

/** Everything `buildSpec` needs; all host lookups are done by the caller, so building is pure. */
export interface SpecInput {
  containerId: string;
  spec: ContainerSpec;
  image: OciImageConfig;
  sandbox: SpecSandbox;
  /** Mounted rootfs (absolute). */
  rootfsPath: string;
  /** The resolved user of the container process. */
  user: OciUser;
  /** HOME of that user from the rootfs's /etc/passwd, when found. */
  home?: string;
  /** The spec's mounts, validated and resolved (same order as `spec.mounts`). */
  mounts: ResolvedMount[];
  /** The spec's devices, stat'ed. */
  devices: HostDevice[];
  /** `linux.cgroupsPath` for this container. */
  cgroupsPath: string;
  /** The pid namespace file of the target container when the pid mode is TARGET. */
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

/** Normalizes a capability name (`NET_ADMIN`, `cap_net_admin`) to the OCI form `CAP_NET_ADMIN`. */
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
 * The ambient capabilities of a container: only those asked for explicitly
 * (the CRI's `add_ambient_capabilities`; the kubelet never sends it) that are
 * in the container's set, normalized; none by default. CRI-O and containerd's
 * CRI plugin clear the ambient set always, because Kubernetes expects a
 * switch to a non-root user to drop every capability; peapod keeps an
 * explicit request, as containerd's `WithAmbientCapabilities` does, and the
 * kernel then needs each one in the inheritable set too (an ambient
 * capability must be permitted and inheritable), which is why the caller
 * uses this list for both.
 * @param requested capability names as given (`NET_BIND_SERVICE`, `cap_net_bind_service`)
 * @param caps the container's bounding set (containerCapabilities)
 */
export function ambientCapabilities(requested: readonly string[], caps: readonly string[]): string[] {
  return [...new Set(requested.map(capabilityName))].filter((cap) => caps.includes(cap)).sort();
}

/**
 * The process arguments: the spec's entrypoint replaces the image Entrypoint
 * and its cmd replaces the image Cmd; an entrypoint without cmd drops the
 * image's Cmd (the Kubernetes and Docker rule). Empty lists count as absent.
 *
 * @throws InvalidArgumentError (field `cmd`) when neither the spec nor the image give any.
 */
export function processArgs(spec: Pick<ContainerSpec, 'entrypoint' | 'cmd'>, image: OciImageConfig): string[] {
  const given = spec.entrypoint ?? [];
  const entrypoint = given.length > 0 ? given : image.config?.Entrypoint ?? [];
  const cmd = (spec.cmd ?? []).length > 0 ? (spec.cmd as string[]) : given.length > 0 ? [] : image.config?.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalidArgument('no command to run: the container gives neither entrypoint nor cmd and the image has no Entrypoint or Cmd', { field: 'cmd' });
  return args;
}

/** Image env, then the spec's env (a variable of the spec replaces the image's of the same name); PATH defaulted, TERM with a tty, HOME from passwd. */
export function processEnv(spec: Pick<ContainerSpec, 'env' | 'tty'>, image: OciImageConfig, home?: string): string[] {
  const env = new Map<string, string>();
  for (const e of image.config?.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const kv of spec.env ?? []) env.set(kv.name, kv.value);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  if (spec.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  if (home !== undefined && !env.has('HOME')) env.set('HOME', home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/**
 * The OCI `linux.resources` of the spec's resources. `unified` is kept only
 * on cgroup v2. Memory swap is the OCI memory+swap total; it is dropped when
 * the host has no swap accounting (`swapControl` false), where runc would
 * fail to set it.
 */
export function ociResources(res: ContainerResources | null | undefined, cgroupV2: boolean, swapControl = true): OciResources {
  const out: OciResources = {};
  if (!res) return out;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if ((res.cpuShares ?? 0) > 0) cpu.shares = res.cpuShares;
  if ((res.cpuQuota ?? 0) !== 0) cpu.quota = res.cpuQuota;
  if ((res.cpuPeriod ?? 0) > 0) cpu.period = res.cpuPeriod;
  if (res.cpusetCpus) cpu.cpus = res.cpusetCpus;
  if (res.cpusetMems) cpu.mems = res.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  const memory: NonNullable<OciResources['memory']> = {};
  if ((res.memoryLimitBytes ?? 0) > 0) memory.limit = res.memoryLimitBytes;
  if (swapControl && (res.memorySwapLimitBytes ?? 0) !== 0) memory.swap = res.memorySwapLimitBytes;
  if (Object.keys(memory).length > 0) out.memory = memory;
  if ((res.hugepageLimits ?? []).length > 0) out.hugepageLimits = res.hugepageLimits!.map((h) => ({ pageSize: h.pageSize, limit: h.limitBytes }));
  if (cgroupV2 && Object.keys(res.unified ?? {}).length > 0) out.unified = { ...res.unified };
  return out;
}

function propagationOption(p: MountPropagation): string {
  if (p === 'shared') return 'rshared';
  if (p === 'slave') return 'rslave';
  return 'rprivate';
}

/**
 * Builds the OCI runtime-spec 1.0.2 config.json of a container.
 *
 * From the ContainerSpec: process (args, env, cwd, user, terminal,
 * capabilities, no_new_privileges, AppArmor, oom_score_adj clamped to
 * `minOomScoreAdj`), root (read-only or not), mounts (the standard Linux
 * file systems, the pod's /dev/shm, hosts, hostname, resolv.conf, then the
 * spec's mounts, which win over the defaults at the same path), namespaces
 * joined by path (pid by the spec's pid mode), devices, resources, seccomp,
 * masked and read-only paths (none when privileged), sysctls and annotations.
 *
 * @throws InvalidArgumentError for a localhost seccomp profile that was not
 *   supplied (field `security.seccomp.profilePath`), and for a TARGET pid
 *   mode without the target's namespace (field `pidTargetId`); processArgs'
 *   error when there is no command.
 */
export function buildSpec(input: SpecInput): OciSpec {
  const { spec: c, sandbox } = input;
  const sec = c.security ?? {};
  const privileged = sec.privileged ?? false;
  const caps = containerCapabilities(sec.capabilities?.add ?? [], sec.capabilities?.drop ?? [], privileged, input.allCapabilities);
  const ambient = ambientCapabilities(sec.capabilities?.ambient ?? [], caps);
  const capabilities: OciCapabilities = {
    bounding: caps,
    effective: caps,
    permitted: caps,
    // Empty unless ambient capabilities were asked for (see ambientCapabilities): a
    // full inheritable set lets a program with inheritable file capabilities gain
    // them across execve, also after a switch to a non-root user (CVE-2022-24769,
    // CVE-2022-27652). containerd, CRI-O and Podman leave it empty, privileged
    // containers included (containerd's WithCapabilities sets no inheritable set).
    inheritable: ambient,
    ambient,
  };

  const oomScoreAdj = Math.max(c.resources?.oomScoreAdj ?? 0, input.minOomScoreAdj);
  const workingDir = c.workingDir || input.image.config?.WorkingDir || '/';

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: c.tty ?? false,
      user: input.user,
      args: processArgs(c, input.image),
      env: processEnv(c, input.image, input.home),
      cwd: workingDir,
      capabilities,
      noNewPrivileges: sec.noNewPrivileges ?? false,
      oomScoreAdj,
    },
    root: { path: input.rootfsPath, readonly: sec.readonlyRootfs ?? false },
    mounts: [],
    annotations: { ...c.annotations, 'io.kubernetes.cri.sandbox-id': sandbox.id, 'io.kubernetes.cri.container-type': 'container' },
    linux: { namespaces: [] },
  };

  // AppArmor: only when the host has it.
  if (input.appArmorEnabled && !privileged && sec.apparmorProfile) spec.process.apparmorProfile = sec.apparmorProfile;

  // Mounts: defaults first, then the pod's files, then the spec's mounts (which win).
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
    filtered.push({ destination: m.containerPath, type: 'bind', source: m.hostPath, options: ['rbind', prop, m.readonly ? 'ro' : 'rw', ...(m.recursiveReadOnly ? ['rro'] : [])] });
  }
  spec.mounts = filtered;
  if (rootPropagation) spec.linux.rootfsPropagation = rootPropagation;

  // Namespaces: mount always new; network, ipc, uts joined from the pod; pid by mode.
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (sandbox.namespaces.network) ns.push({ type: 'network', path: sandbox.namespaces.network });
  if (sandbox.namespaces.ipc) ns.push({ type: 'ipc', path: sandbox.namespaces.ipc });
  if (sandbox.namespaces.uts) ns.push({ type: 'uts', path: sandbox.namespaces.uts });
  const pidMode = c.pidMode ?? 'POD';
  if (pidMode === 'POD') {
    ns.push(sandbox.namespaces.pid ? { type: 'pid', path: sandbox.namespaces.pid } : { type: 'pid' });
  } else if (pidMode === 'TARGET') {
    if (!input.targetPidNamespace) throw invalidArgument(`the PID namespace target ${quoteInput(c.pidTargetId ?? '')} is not a running container of the pod`, { field: 'pidTargetId' });
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
  spec.linux.resources = { devices: deviceRules, ...ociResources(c.resources, input.cgroupV2, input.swapControl ?? true) };
  spec.linux.cgroupsPath = input.cgroupsPath;
  const sysctls = { ...sandbox.sysctls, ...c.sysctls };
  if (Object.keys(sysctls).length > 0) spec.linux.sysctl = sysctls;

  // Seccomp: runtime-default → ours; unconfined (the default) → none; localhost → the profile read from its file.
  if (!privileged) {
    const seccomp = sec.seccomp ?? { type: 'unconfined' };
    if (seccomp.type === 'runtime-default') spec.linux.seccomp = defaultSeccompProfile(caps);
    else if (seccomp.type === 'localhost') {
      if (!input.localhostSeccomp) throw invalidArgument(`seccomp profile ${quoteInput(seccomp.profilePath)} was not read`, { field: 'security.seccomp.profilePath' });
      spec.linux.seccomp = input.localhostSeccomp;
    }
  }

  if (!privileged) {
    spec.linux.maskedPaths = (sec.maskedPaths ?? []).length > 0 ? [...sec.maskedPaths!] : [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = (sec.readonlyPaths ?? []).length > 0 ? [...sec.readonlyPaths!] : [...DEFAULT_READONLY_PATHS];
  }
  return spec;
}
