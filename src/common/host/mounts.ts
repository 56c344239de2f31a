/**
 * Mount points of peapod's mount namespace, read from /proc/self/mountinfo
 * (proc(5)): field 5 is the mount point with space, tab, newline and
 * backslash written as octal escapes (\040, \011, \012, \134).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runUmount } from './mount-program';

/** Undoes the octal escapes of a mountinfo path. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mount points, in mount order (a path mounted twice appears twice); [] without procfs. */
export function mountPoints(): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return parseMountPoints(text);
}

/**
 * As mountPoints, read on libuv's threads: a read of mountinfo has the
 * kernel print every mount, which the event loop should not wait for in
 * work that runs beside calls (a container's background release).
 */
export async function mountPointsAsync(): Promise<string[]> {
  let text: string;
  try {
    text = await fs.promises.readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return parseMountPoints(text);
}

/** The mount points of a mountinfo text, in its order. */
function parseMountPoints(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountPath(fields[4]));
  }
  return out;
}

/** True when `target` (made absolute) is a mount point, possibly several times over. */
export function isMountPoint(target: string): boolean {
  return mountPoints().includes(path.resolve(target));
}

/** As isMountPoint, with mountinfo read off the event loop (mountPointsAsync). */
export async function isMountPointAsync(target: string): Promise<boolean> {
  return (await mountPointsAsync()).includes(path.resolve(target));
}

/**
 * Whether a filesystem is mounted at `target`, as isMountPoint, by two
 * stats instead of a read of /proc/self/mountinfo: that file lists every
 * mount of the namespace (a busy host's hundreds of pods and containers:
 * 170 KB and 5-20 ms a read under load, seen in `--cpu-prof` of `run --rm`,
 * where each removal read it seven times). A path whose device differs
 * from its parent directory's is a mount point. This is exact for the mounts
 * peapod makes and unmounts (overlay and fuse-overlayfs rootfs, tmpfs
 * /dev/shm, namespace files bound from nsfs): each is a filesystem of its own,
 * with its own device. A bind mount from the same filesystem would not be
 * seen, so it is not for paths others may mount. A path that cannot be
 * stat'ed for another reason than its absence (a fuse mount whose daemon
 * died: ENOTCONN) is looked up in mountinfo.
 */
export function mountedOver(target: string): boolean {
  const abs = path.resolve(target);
  let dev: number;
  try {
    dev = fs.lstatSync(abs).dev;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? false : isMountPoint(abs);
  }
  try {
    return fs.statSync(path.dirname(abs)).dev !== dev;
  } catch {
    return isMountPoint(abs);
  }
}

/**
 * Unmounts `target` until nothing is mounted there (at most 16 layers).
 * Does nothing when it is not a mount point. For peapod's own mounts
 * (mountedOver tells whether one is left).
 * @param options.lazy detach a busy mount lazily (`umount -l`) instead of failing
 * @throws HostCommandError when umount fails (with `lazy`, when even the lazy unmount fails).
 */
export async function unmountAll(target: string, options: { lazy?: boolean } = {}): Promise<void> {
  for (let i = 0; i < 16 && mountedOver(target); i++) {
    try {
      await runUmount([target]);
    } catch (err) {
      if (!options.lazy) throw err;
      await runUmount([target], true);
    }
  }
}

/**
 * Unmounts every one of `targets` until nothing is mounted at any of them
 * (at most 16 layers each), with one `umount` process per round for all the
 * targets still mounted rather than one per target: a sandbox's teardown
 * unmounts five paths (four namespace pins and /dev/shm), and each host
 * process costs a fork and an exec. Targets not mounted are skipped; all
 * are tried before an error is thrown. For peapod's own mounts (mountedOver
 * tells which are left).
 * @param targets paths (made absolute)
 * @throws HostCommandError when umount fails for any of them.
 */
export async function unmountEach(targets: readonly string[]): Promise<void> {
  const wanted = [...new Set(targets.map((t) => path.resolve(t)))];
  for (let i = 0; i < 16; i++) {
    const left = wanted.filter(mountedOver);
    if (left.length === 0) return;
    await runUmount(left);
  }
}
