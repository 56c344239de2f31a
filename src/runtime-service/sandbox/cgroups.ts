import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../common/errors';
import { cgroupHierarchies, cgroupHierarchiesAsync } from '../../common/host/cgroup-hierarchies';

/** Where cgroup hierarchies are mounted. */
const CGROUP_ROOT = '/sys/fs/cgroup';

/** Parent used when the pod names none, per driver. */
export const DEFAULT_CGROUP_PARENT = { cgroupfs: '/peapod', systemd: 'peapod.slice' } as const;

/**
 * The cgroup hierarchies mounted under /sys/fs/cgroup (each v1 controller
 * mount and the v2 unified one): common/host/cgroup-hierarchies.ts, from
 * the root's entries rather than /proc/self/mountinfo (which grows with
 * every pod's and container's mounts).
 */
export function cgroupMounts(): string[] {
  return cgroupHierarchies(CGROUP_ROOT);
}

/** As cgroupMounts, its system calls on libuv's threads. */
export function cgroupMountsAsync(): Promise<string[]> {
  return cgroupHierarchiesAsync(CGROUP_ROOT);
}

/** Longest cgroup parent accepted, in characters (PATH_MAX). */
export const MAX_CGROUP_PARENT_LENGTH = 4096;

/** Longest systemd unit name (systemd's UNIT_NAME_MAX). */
const MAX_UNIT_NAME_LENGTH = 255;

/** The characters of a systemd unit name (systemd unit_name_is_valid): letters, digits and `:-_.\`. */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:_.\\-]+$/;

/**
 * The pod cgroup for the cgroupfs driver: `<parent>/pod-<id>`, absolute.
 * A parent whose last element is a systemd slice is refused, as CRI-O does
 * (internal/config/cgmgr/cgroupfs_linux.go): it means the kubelet runs the
 * systemd driver while peapod runs cgroupfs.
 * @param parent PodSandboxConfig.linux.cgroup_parent, or '' for the default /peapod
 * @throws InvalidArgumentError (field `cgroupParent`) for a slice, a NUL byte or more than 4096 characters.
 */
export function cgroupfsPodPath(parent: string, id: string): string {
  if (parent.length > MAX_CGROUP_PARENT_LENGTH) throw invalidArgument(`cgroup parent is longer than ${MAX_CGROUP_PARENT_LENGTH} characters`, { field: 'cgroupParent' });
  if (parent.includes('\0')) throw invalidArgument('cgroup parent contains a NUL byte', { field: 'cgroupParent' });
  if (path.posix.basename(parent).endsWith('.slice')) {
    throw invalidArgument(`cgroup parent "${parent}" is a systemd slice, but the cgroup driver is cgroupfs (runtime.cgroup_driver must match the kubelet's)`, { field: 'cgroupParent' });
  }
  const base = parent === '' ? DEFAULT_CGROUP_PARENT.cgroupfs : parent;
  return path.posix.join('/', base, `pod-${id}`);
}

/**
 * The slice for the systemd driver: the pod's cgroup_parent when it is a
 * slice (the kubelet passes e.g. `kubepods-besteffort-pod<uid>.slice`; of a
 * path of slices the last one), else peapod.slice. Only computed: systemd
 * creates it when a container scope is started in it. The name is checked
 * as runc expands it (libcontainer/cgroups/systemd ExpandSlice: ends in
 * `.slice`, no empty `-` component) and as systemd takes unit names, so a
 * bad one is refused here instead of failing in runc later; CRI-O refuses a
 * parent that is not a slice the same way (internal/config/cgmgr/systemd_linux.go).
 * @throws InvalidArgumentError (field `cgroupParent`) when cgroup_parent is
 *   given and is not a valid `.slice` name.
 */
export function systemdSlice(parent: string): string {
  if (parent === '') return DEFAULT_CGROUP_PARENT.systemd;
  const bad = (why: string): never => {
    throw invalidArgument(`cgroup parent "${parent.length > 300 ? `${parent.slice(0, 300)}…` : parent}" ${why} (the cgroup driver is systemd)`, { field: 'cgroupParent' });
  };
  if (parent.length > MAX_CGROUP_PARENT_LENGTH) bad(`is longer than ${MAX_CGROUP_PARENT_LENGTH} characters`);
  const name = path.posix.basename(parent);
  if (!name.endsWith('.slice') || name === '.slice') bad('is not a systemd slice');
  if (name.length > MAX_UNIT_NAME_LENGTH) bad(`names a slice longer than ${MAX_UNIT_NAME_LENGTH} characters`);
  if (!UNIT_NAME_CHARS.test(name)) bad('is not a systemd slice name (letters, digits and ":-_.\\" only)');
  const stem = name.slice(0, -'.slice'.length);
  if (stem !== '-' && stem.split('-').some((part) => part === '')) bad("is not a systemd slice name (a leading, trailing or doubled '-')");
  return name;
}

/**
 * The pod's cgroup parent as its containers use it, by driver: a cgroupfs
 * path (cgroupfsPodPath) or a systemd slice (systemdSlice).
 * @throws InvalidArgumentError (field `cgroupParent`) when it does not fit the driver.
 */
export function podCgroupParent(driver: 'cgroupfs' | 'systemd', parent: string, id: string): string {
  return driver === 'systemd' ? systemdSlice(parent) : cgroupfsPodPath(parent, id);
}

/**
 * A container's `linux.cgroupsPath`, under its pod's cgroup: with cgroupfs
 * `<pod cgroup>/peapod-<id>` (absolute), with systemd runc's
 * `slice:prefix:name` form, `<pod slice>:peapod:<id>` (a scope systemd makes).
 * @param podCgroup the pod record's cgroupParent ('' for none: /peapod or system.slice)
 */
export function containerCgroupsPath(driver: 'cgroupfs' | 'systemd', podCgroup: string, id: string): string {
  if (driver === 'systemd') return `${podCgroup || 'system.slice'}:peapod:${id}`;
  return path.posix.join(podCgroup || DEFAULT_CGROUP_PARENT.cgroupfs, `peapod-${id}`);
}

/** Copies cpuset.cpus/mems down from the parent so tasks can join a new v1 cpuset cgroup. */
function fillCpuset(dir: string): void {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const file = path.join(dir, f);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8').trim() !== '') continue;
    fs.writeFileSync(file, fs.readFileSync(path.join(path.dirname(dir), f), 'utf8').trim());
  }
}

/**
 * Creates the pod cgroup `cgroupPath` (absolute, e.g. /peapod/pod-<id>) in
 * every mounted hierarchy (hybrid mode: each v1 controller and the unified
 * tree), with its missing parents; cpuset cgroups get their parent's cpus and
 * mems. Every hierarchy at once, each a `mkdir -p` on libuv's threads (a
 * cgroup's mkdir allocates the controller's state: about 0.1 ms each, a dozen
 * hierarchies here), so it runs beside the pod's namespaces and CNI ADD
 * (create.ts); the cpuset files, a few reads of kernel values, are copied
 * once the cpuset directories exist.
 * @throws the fs error of the first hierarchy that fails, once every
 *   hierarchy has been tried (the caller's rollback calls removePodCgroup).
 */
export async function createPodCgroup(cgroupPath: string): Promise<void> {
  const segments = cgroupPath.split('/').filter(Boolean);
  const results = await Promise.allSettled(
    cgroupMounts().map(async (mount) => {
      await fs.promises.mkdir(path.join(mount, ...segments), { recursive: true });
      if (!mount.includes('cpuset')) return;
      let dir = mount;
      for (const seg of segments) fillCpuset((dir = path.join(dir, seg)));
    }),
  );
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * Removes the pod cgroup from every hierarchy (rmdir; only this leaf, never
 * its parents), the hierarchies at once and off the event loop (an rmdir of
 * a cgroup takes milliseconds on a loaded host: a dozen v1 hierarchies
 * here). A cgroup already gone is fine; every hierarchy is tried before a
 * failure is thrown.
 * @throws the fs error when a cgroup still has tasks or children (EBUSY).
 */
export async function removePodCgroup(cgroupPath: string): Promise<void> {
  const results = await Promise.allSettled(
    cgroupMounts().map((mount) =>
      fs.promises.rmdir(path.join(mount, cgroupPath)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * Moves a process into the pod cgroup of every hierarchy (writes its pid to
 * each `cgroup.procs`), so the pod's init process counts against the pod.
 * @throws the fs error of the first hierarchy that refuses it.
 */
export function joinPodCgroup(cgroupPath: string, pid: number): void {
  for (const mount of cgroupMounts()) fs.writeFileSync(path.join(mount, cgroupPath, 'cgroup.procs'), String(pid));
}

/**
 * Removes a container's cgroup (its `linux.cgroupsPath`) from every
 * hierarchy, after SIGKILLing any process still in it: for a container the
 * runtime no longer knows (`runc create` cut short by a crash), whose cgroup
 * `runc delete` cannot remove. A cgroup already gone is fine. With the
 * systemd driver the container's scope is systemd's: nothing is done.
 * @throws the fs error when a cgroup cannot be removed (EBUSY: a process
 *   that did not die within 5 s, or a child cgroup).
 */
export async function removeContainerCgroup(driver: 'cgroupfs' | 'systemd', cgroupsPath: string): Promise<void> {
  if (driver !== 'cgroupfs' || !cgroupsPath.startsWith('/')) return;
  // Every hierarchy at once, all I/O on libuv's threads: this runs in RemoveContainer's
  // background release, beside the calls that follow it on the event loop.
  await Promise.all((await cgroupMountsAsync()).map((mount) => removeCgroupDir(path.join(mount, cgroupsPath))));
}

/** Removes one cgroup directory, SIGKILLing what is still in it, for at most 5 s (see removeContainerCgroup). */
async function removeCgroupDir(dir: string): Promise<void> {
  const deadline = Date.now() + 5000;
  let pause = 1;
  for (;;) {
    let pids: number[] = [];
    try {
      pids = (await fs.promises.readFile(path.join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no such cgroup, or gone meanwhile
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      await fs.promises.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
    }
    // A killed process leaves the cgroup within a millisecond or two: look again soon, then less often.
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 20);
  }
}
