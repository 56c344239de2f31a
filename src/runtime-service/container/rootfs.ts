import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand } from '../../common/host/command';
import { unescapeMountPath, unmountAll } from '../../common/host/mounts';

/** The image layers a container's rootfs stacks, as the image store hands them out. */
export interface LayerStack {
  /** Directory the short link names are relative to (the mount runs with this cwd). */
  linkDir: string;
  /** Lower directories, TOP-MOST first, relative to linkDir (or absolute). */
  lowers: string[];
}

/**
 * Mounts an overlayfs at `target`: the image's layers read-only below, the
 * container's own `upperDir`/`workDir` above (created when missing).
 * The lower dirs are passed relative to `linkDir` (short link names), with
 * the mount command run in linkDir, so that 100+ layers fit in the one page
 * of mount options.
 *
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function mountRootfs(layers: LayerStack, upperDir: string, workDir: string, target: string): Promise<void> {
  if (layers.lowers.length === 0) throw new Error('image has no layers');
  // The merged root directory takes the upper dir's mode: 0755, what / is in
  // every image, whatever the umask (containers/storage makes diff/ 0755 too).
  // Host users cannot reach it: its parents are 0700 (state-dirs.ts).
  fs.mkdirSync(upperDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(upperDir, 0o755);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  // overlayfs needs two lowers or an upper; one lower plus upper is fine.
  const opts = `lowerdir=${layers.lowers.join(':')},upperdir=${upperDir},workdir=${workDir}`;
  await runHostCommand('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], { cwd: layers.linkDir, timeoutMs: 60_000 });
}

/**
 * Makes the host's view of a mounted rootfs `nosuid,nodev` (a bind remount
 * of that one mount), once the runtime has created the container: the
 * container's mount namespace holds its own copy of the mount, whose flags a
 * remount in the host's namespace does not change, so its setuid programs
 * and device nodes keep working inside while the host's view can run or open
 * none of them (defense in depth behind the 0700 bundle directories:
 * containerd CVE-2021-41103, Moby CVE-2021-41091). Mounting `nosuid` from
 * the start would take setuid from the container too (runc's bind of the
 * rootfs inherits the flags), which images that run `su` or `ping` need.
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function restrictHostRootfs(target: string): Promise<void> {
  await runHostCommand('mount', ['-o', 'remount,bind,nosuid,nodev', target], { timeoutMs: 60_000 });
}

/**
 * Undoes restrictHostRootfs (the host's view `suid,dev` again) before the
 * runtime creates the container anew on the same rootfs (recreate.ts): the
 * new container's copy of the mount would inherit `nosuid,nodev`.
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function allowHostRootfs(target: string): Promise<void> {
  await runHostCommand('mount', ['-o', 'remount,bind,suid,dev', target], { timeoutMs: 60_000 });
}

/**
 * The rootfs mounts under `bundlesDir` (`<id>/rootfs`) whose host view is
 * still suid or dev, as an older peapod left them: one read of
 * /proc/self/mountinfo.
 * @returns the container IDs.
 */
export function unrestrictedRootfsMounts(bundlesDir: string): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const target = f.length > 5 ? unescapeMountPath(f[4]) : undefined;
    if (!target || path.dirname(path.dirname(target)) !== bundlesDir || path.basename(target) !== 'rootfs') continue;
    const opts = f[5].split(',');
    if (!opts.includes('nosuid') || !opts.includes('nodev')) out.push(path.basename(path.dirname(target)));
  }
  return out;
}

/** Unmounts the rootfs when mounted (lazily if busy). Safe to call twice. */
export async function unmountRootfs(target: string): Promise<void> {
  await unmountAll(target, { lazy: true });
}
