/**
 * The OCI spec of a rootless container (docs/rootless.md). peapod's
 * rootless processes (and so conmon and runc) run inside the user's user
 * namespace as its uid 0, the way Podman runs them: runc then runs in its
 * rootless mode by itself (runc's `--rootless auto`: in a user namespace,
 * cgroup errors are tolerated only where nothing is asked of cgroups), and
 * the container shares that user namespace, so `/proc/self/uid_map` inside
 * shows the user's map (`0 UID 1`, `1 SUBUID N`). What changes in the spec:
 *
 * - cgroups: a user has none unless systemd delegates a cgroup v2 subtree to
 *   it (user@UID.service); without one, `linux.cgroupsPath` and
 *   `linux.resources` go (runc would try to make the cgroup and fail) and
 *   any asked-for limit is refused beforehand (`checkRootlessResources`), as
 *   Podman refuses them; with one, the systemd cgroup manager places the
 *   container in `user.slice` of the user's manager.
 * - /sys: sysfs can be mounted only in a network namespace the user
 *   namespace owns; a container on the host's network gets the host's /sys
 *   bound read-only instead.
 * - /dev/mqueue: likewise an mqueue file system needs an IPC namespace the
 *   user namespace owns; with the host's IPC it is bound from the host (and
 *   left out where the host has none).
 *
 * Devices named in the spec stay: runc bind-mounts them where it cannot
 * mknod. The oom_score_adj floor and rlimits are handled as for root (never
 * below the caller's, never above its hard limits).
 */
import * as fs from 'node:fs';
import { invalidArgument } from '../../common/errors';
import type { ContainerResources } from '../container/spec';
import type { OciMount, OciSpec } from './types';

/** statfs f_type of cgroup2 (linux/magic.h). */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The cgroups a rootless container can have. */
export type RootlessCgroups =
  /** No cgroup of its own: no limits, no cgroup statistics. */
  | { kind: 'none'; reason: string }
  /** A cgroup v2 subtree delegated by systemd: the systemd cgroup manager of the user's manager. */
  | { kind: 'systemd'; path: string };

/** Where the cgroup facts are read (tests pass their own). */
export interface CgroupFacts {
  /** The file system type of /sys/fs/cgroup (statfs f_type). */
  cgroupFsType: number;
  /** This process's /proc/self/cgroup. */
  procSelfCgroup: string;
  /** Whether the cgroup v2 directory of this process is writable by it. */
  writable(dir: string): boolean;
  /** The controllers enabled in a cgroup v2 directory (its cgroup.controllers). */
  controllers(dir: string): string[];
  /** Whether the user's systemd manager can be reached (its D-Bus socket). */
  systemdUserManager: boolean;
}

/** The facts of this host, for this process. */
export function hostCgroupFacts(env: NodeJS.ProcessEnv = process.env): CgroupFacts {
  let type = 0;
  try {
    type = fs.statfsSync('/sys/fs/cgroup').type;
  } catch {
    // no cgroup file system
  }
  let self = '';
  try {
    self = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    // none
  }
  const bus = env.DBUS_SESSION_BUS_ADDRESS ?? (env.XDG_RUNTIME_DIR ? `unix:path=${env.XDG_RUNTIME_DIR}/bus` : '');
  const busPath = /unix:path=([^,;]+)/.exec(bus)?.[1];
  return {
    cgroupFsType: type,
    procSelfCgroup: self,
    writable: (dir) => {
      try {
        fs.accessSync(dir, fs.constants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    controllers: (dir) => {
      try {
        return fs.readFileSync(`${dir}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch {
        return [];
      }
    },
    systemdUserManager: busPath !== undefined && fs.existsSync(busPath),
  };
}

/**
 * Decides the cgroups of rootless containers: a systemd-delegated cgroup v2
 * subtree when this host has cgroup v2 alone, this process sits in a
 * cgroup it may write with controllers enabled, and the user's systemd
 * manager answers on D-Bus; else none, with the reason.
 */
export function rootlessCgroups(facts: CgroupFacts = hostCgroupFacts()): RootlessCgroups {
  if (facts.cgroupFsType !== CGROUP2_SUPER_MAGIC) {
    return { kind: 'none', reason: 'this host does not run cgroup v2 alone (it has cgroup v1 or a hybrid of both), and only a cgroup v2 subtree can be delegated to a user' };
  }
  const line = facts.procSelfCgroup.split('\n').find((l) => l.startsWith('0::'));
  if (!line) return { kind: 'none', reason: 'this process is in no cgroup v2 group' };
  const dir = `/sys/fs/cgroup${line.slice(3)}`;
  if (!facts.writable(dir) || facts.controllers(dir).length === 0) {
    return { kind: 'none', reason: `no cgroup is delegated to this user (${dir} is not writable or has no controllers; systemd delegates one to user@UID.service)` };
  }
  if (!facts.systemdUserManager) return { kind: 'none', reason: 'the user\'s systemd manager cannot be reached (no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus)' };
  return { kind: 'systemd', path: dir };
}

/** The limits of `res` that need a cgroup, by their field names. */
function askedLimits(res: ContainerResources): string[] {
  const out: string[] = [];
  if ((res.cpuShares ?? 0) > 0) out.push('cpuShares');
  if ((res.cpuQuota ?? 0) !== 0) out.push('cpuQuota');
  if ((res.cpuPeriod ?? 0) > 0) out.push('cpuPeriod');
  if (res.cpusetCpus) out.push('cpusetCpus');
  if (res.cpusetMems) out.push('cpusetMems');
  if ((res.memoryLimitBytes ?? 0) > 0) out.push('memoryLimitBytes');
  if ((res.memorySwapLimitBytes ?? 0) !== 0) out.push('memorySwapLimitBytes');
  if ((res.hugepageLimits ?? []).length > 0) out.push('hugepageLimits');
  if (Object.keys(res.unified ?? {}).length > 0) out.push('unified');
  return out;
}

/**
 * Refuses resource limits a rootless container cannot have (Podman's rule:
 * limits need cgroup v2 with the systemd cgroup manager).
 * @throws InvalidArgumentError naming the first limit (field
 *   `resources.<name>`) and why there is no cgroup.
 */
export function checkRootlessResources(res: ContainerResources | null | undefined, cgroups: RootlessCgroups): void {
  if (!res || cgroups.kind !== 'none') return;
  const asked = askedLimits(res);
  if (asked.length === 0) return;
  throw invalidArgument(
    `resource limits (${asked.join(', ')}) need a cgroup, and a rootless container has none here: ${cgroups.reason}; run it without limits, or as root`,
    { field: `resources.${asked[0]}` },
  );
}

/** What the pod gives a rootless container. */
export interface RootlessSpecInput {
  cgroups: RootlessCgroups;
  /** The container joins no network namespace of its pod (the host's network). */
  hostNetwork: boolean;
  /** The container joins no IPC namespace of its pod and makes none (the host's IPC). */
  hostIpc: boolean;
  /** Whether the host has /dev/mqueue to bind for the host's IPC (without it the container gets none). */
  hostMqueue: boolean;
  containerId: string;
  /** Whether the user namespace maps gid 5 (tty), which /dev/pts is mounted with; not with a single-ID mapping. */
  ttyGroupMapped: boolean;
}

/**
 * Whether `gid` is mapped in this process's user namespace.
 * @param gidMap the text of /proc/self/gid_map (lines "inside outside count")
 */
export function gidMapped(gid: number, gidMap: string): boolean {
  return gidMap
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .some(([inside, , count]) => Number.isFinite(inside) && Number.isFinite(count) && gid >= inside && gid < inside + count);
}

/**
 * Turns the spec of buildSpec into a rootless container's (see the module
 * doc). Pure: returns a new spec.
 */
export function rootlessSpec(spec: OciSpec, input: RootlessSpecInput): OciSpec {
  const out: OciSpec = structuredClone(spec);
  if (input.cgroups.kind === 'none') {
    delete out.linux.cgroupsPath;
    delete out.linux.resources;
  } else {
    out.linux.cgroupsPath = `user.slice:peapod:${input.containerId}`;
  }
  const sysReadonly = (m: OciMount): boolean => (m.options ?? []).includes('ro');
  out.mounts = out.mounts.flatMap((m): OciMount[] => {
    if (input.hostNetwork && m.destination === '/sys' && m.type === 'sysfs') {
      return [{ destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', sysReadonly(m) ? 'ro' : 'rw'] }];
    }
    if (input.hostIpc && m.destination === '/dev/mqueue' && m.type === 'mqueue') {
      return input.hostMqueue ? [{ destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }] : [];
    }
    // devpts' gid=5 fails the mount when gid 5 is not mapped (a single-ID mapping); Podman leaves it out then too.
    if (!input.ttyGroupMapped && m.type === 'devpts') return [{ ...m, options: (m.options ?? []).filter((o) => o !== 'gid=5') }];
    return [m];
  });
  return out;
}
