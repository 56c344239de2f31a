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
 * Unmounts `target` until nothing is mounted there (at most 16 layers).
 * Does nothing when it is not a mount point.
 * @param options.lazy detach a busy mount lazily (`umount -l`) instead of failing
 * @throws HostCommandError when umount fails (with `lazy`, when even the lazy unmount fails).
 */
export async function unmountAll(target: string, options: { lazy?: boolean } = {}): Promise<void> {
  for (let i = 0; i < 16 && (await isMountPointAsync(target)); i++) {
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
 * are tried before an error is thrown.
 * @param targets paths (made absolute)
 * @throws HostCommandError when umount fails for any of them.
 */
export async function unmountEach(targets: readonly string[]): Promise<void> {
  const wanted = targets.map((t) => path.resolve(t));
  for (let i = 0; i < 16; i++) {
    const mounted = new Set(await mountPointsAsync());
    const left = [...new Set(wanted.filter((t) => mounted.has(t)))];
    if (left.length === 0) return;
    await runUmount(left);
  }
}
