import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostCommandError, runHostCommand } from '../../common/host/command';
import { mountedOver, unescapeMountPath, unmountAll } from '../../common/host/mounts';
import { runMount } from '../../common/host/mount-program';
import { findProgram } from '../../common/host/programs';
import { inUserNamespace } from '../../common/userns';
import { PeapodError } from '../../common/errors';

/** The image layers a container's rootfs stacks, as the image store hands them out. */
export interface LayerStack {
  /** Directory the short link names are relative to (the mount runs with this cwd). */
  linkDir: string;
  /** Lower directories, TOP-MOST first, relative to linkDir (or absolute). */
  lowers: string[];
}

/** How a rootfs is mounted. */
export interface RootfsMountOptions {
  /**
   * `auto` (default): the kernel's overlayfs; in a user namespace with
   * `userxattr`, falling back to fuse-overlayfs where the kernel refuses.
   * `kernel`: the kernel's only. `fuse-overlayfs`: fuse-overlayfs only.
   */
  program?: 'auto' | 'kernel' | 'fuse-overlayfs';
  /** Mount for a user namespace (default: whether this process runs in one). */
  userNamespace?: boolean;
  /** The FUSE device fuse-overlayfs opens, checked first (default /dev/fuse). */
  fuseDevice?: string;
}

/** The rootfs cannot be mounted; the message says by what, and what is missing. */
export class RootfsMountError extends PeapodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
    this.name = 'RootfsMountError';
  }
}

/** Why fuse-overlayfs cannot run here, naming what is missing; undefined when it can. */
export function fuseOverlayfsMissing(fuseDevice = '/dev/fuse', pathEnv = process.env.PATH ?? ''): string | undefined {
  if (!findProgram('fuse-overlayfs', pathEnv)) return 'fuse-overlayfs not found in PATH: install the fuse-overlayfs package';
  if (!fs.existsSync(fuseDevice)) return `there is no FUSE device ${fuseDevice}: load the fuse module (as root: modprobe fuse)`;
  try {
    fs.accessSync(fuseDevice, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    const mode = (fs.statSync(fuseDevice).mode & 0o777).toString(8).padStart(4, '0');
    return `the FUSE device ${fuseDevice} is not open to this user (mode ${mode}): as root, chmod 0666 ${fuseDevice} (Debian's default; see docs/rootless.md)`;
  }
  return undefined;
}

/**
 * Mounts an overlayfs at `target`: the image's layers read-only below, the
 * container's own `upperDir`/`workDir` above (created when missing).
 * The lower dirs are passed relative to `linkDir` (short link names), with
 * the mount command run in linkDir, so that 100+ layers fit in the one page
 * of mount options.
 *
 * In a user namespace (rootless) the kernel's overlayfs is mounted with
 * `userxattr` (Linux 5.11: opaque markers and redirects in user.overlay.*,
 * as the image store writes them there); where the kernel refuses, the same
 * stack is mounted by fuse-overlayfs (Debian package), which reads the same
 * markers and keeps running as the mount's daemon until it is unmounted.
 *
 * @throws HostCommandError with mount's message when the kernel refuses
 *   (`kernel`, or `auto` outside a user namespace); RootfsMountError when
 *   fuse-overlayfs cannot help, naming what is missing (the program, the
 *   FUSE device or its access) with the kernel's refusal.
 */
export async function mountRootfs(layers: LayerStack, upperDir: string, workDir: string, target: string, options: RootfsMountOptions = {}): Promise<void> {
  if (layers.lowers.length === 0) throw new Error('image has no layers');
  // The merged root directory takes the upper dir's mode: 0755, what / is in
  // every image, whatever the umask (containers/storage makes diff/ 0755 too).
  // Host users cannot reach it: its parents are 0700 (state-dirs.ts).
  fs.mkdirSync(upperDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(upperDir, 0o755);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  const program = options.program ?? 'auto';
  const userns = options.userNamespace ?? inUserNamespace();
  // overlayfs needs two lowers or an upper; one lower plus upper is fine.
  const opts = `lowerdir=${layers.lowers.join(':')},upperdir=${upperDir},workdir=${workDir}`;
  let refusal: HostCommandError | undefined;
  if (program !== 'fuse-overlayfs') {
    try {
      await runMount(['-t', 'overlay', 'overlay', '-o', userns ? `${opts},userxattr` : opts, target], { cwd: layers.linkDir, timeoutMs: 60_000 });
      return;
    } catch (err) {
      if (!(err instanceof HostCommandError) || program === 'kernel' || !userns) throw err;
      refusal = err;
    }
  }
  const because = refusal ? `the kernel refused overlayfs in this user namespace (${refusal.stderr.trim() || refusal.message}), and ` : '';
  const missing = fuseOverlayfsMissing(options.fuseDevice);
  if (missing) throw new RootfsMountError(`cannot mount the container's root file system: ${because}${missing}`, { cause: refusal });
  try {
    await runHostCommand('fuse-overlayfs', ['-o', opts, target], { cwd: layers.linkDir, timeoutMs: 60_000 });
  } catch (err) {
    const why = err instanceof HostCommandError ? err.stderr.replace(/^unknown argument ignored: lazytime\n/m, '').trim() : (err as Error).message;
    throw new RootfsMountError(`cannot mount the container's root file system: ${because}fuse-overlayfs failed: ${why}`, { cause: err });
  }
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
 *
 * Not in a user namespace (rootless, docs/rootless.md): there the mount is
 * in the user's own mount namespace, which only the user's processes enter
 * (as the namespace's root already), and a setuid file on a mount made in a
 * user namespace grants only IDs that namespace maps, the user's own; so the
 * remount would guard nothing and only cost a host process between runc's
 * create and start.
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function restrictHostRootfs(target: string): Promise<void> {
  if (inUserNamespace()) return;
  await runMount(['-o', 'remount,bind,nosuid,nodev', target], { timeoutMs: 60_000 });
}

/**
 * Undoes restrictHostRootfs (the host's view `suid,dev` again) before the
 * runtime creates the container anew on the same rootfs (recreate.ts): the
 * new container's copy of the mount would inherit `nosuid,nodev`.
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function allowHostRootfs(target: string): Promise<void> {
  if (inUserNamespace()) return; // never restricted there (restrictHostRootfs)
  await runMount(['-o', 'remount,bind,suid,dev', target], { timeoutMs: 60_000 });
}

/**
 * The rootfs mounts under `bundlesDir` (`<id>/rootfs`) whose host view is
 * still suid or dev, as an older peapod left them: one read of
 * /proc/self/mountinfo (none in a user namespace, where they are left so).
 * @returns the container IDs.
 */
export function unrestrictedRootfsMounts(bundlesDir: string): string[] {
  const out: string[] = [];
  if (inUserNamespace()) return out; // not restricted there (restrictHostRootfs)
  // No rootfs mounted under bundlesDir (a CLI command with no container running): no read of mountinfo, which lists every mount of the host.
  if (!anyRootfsMounted(bundlesDir)) return out;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const target = f.length > 5 ? unescapeMountPath(f[4]) : undefined;
    if (!target || path.dirname(path.dirname(target)) !== bundlesDir || path.basename(target) !== 'rootfs') continue;
    const opts = f[5].split(',');
    if (!opts.includes('nosuid') || !opts.includes('nodev')) out.push(path.basename(path.dirname(target)));
  }
  return out;
}

/** Whether some `<bundlesDir>/<id>/rootfs` is a mount point (mountedOver: a stat per bundle). */
function anyRootfsMounted(bundlesDir: string): boolean {
  let ids: string[];
  try {
    ids = fs.readdirSync(bundlesDir);
  } catch {
    return false;
  }
  return ids.some((id) => mountedOver(path.join(bundlesDir, id, 'rootfs')));
}

/** Unmounts the rootfs when mounted (lazily if busy). Safe to call twice. */
export async function unmountRootfs(target: string): Promise<void> {
  await unmountAll(target, { lazy: true });
}
