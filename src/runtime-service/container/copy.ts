/**
 * Copying files between a container's root file system and the host (the
 * CLI's `cp`), safe against the container's symbolic links: a path in the
 * container is resolved inside its rootfs the way the container sees it
 * (oci/user.ts resolveInRoot: absolute targets and `..` never leave the
 * rootfs), and below that point nothing is followed: links are copied as
 * links, a link found where a file or directory is to be written is
 * replaced, never written through (O_NOFOLLOW). A running container is
 * frozen (`runtime pause`) while the copy runs, so its processes cannot swap
 * a directory for a link between the check and the write (Docker's fix of
 * CVE-2018-15664).
 *
 * Semantics (docker/podman cp): a source directory is copied as a whole
 * into an existing destination directory (`SRC/.` copies its contents); a
 * destination that does not exist is created with the source's name given.
 * Files copied in are owned by the container's root (0:0); files copied out
 * by the caller. Modes and modification times are kept. Bind mounts of the
 * container (volumes, /etc/hosts and the like) are not part of the rootfs
 * and are not seen.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, notFound } from '../../common/errors';
import { resolveInRoot } from '../oci/user';

/** Most entries one copy writes (files, directories, links). */
export const COPY_MAX_ENTRIES = 1_000_000;

/** The parent of a path in the container resolved inside `rootfs`, and the final name (not followed). */
function resolveParent(rootfs: string, ctrPath: string): { dir: string | undefined; name: string } {
  const norm = path.posix.normalize(`/${ctrPath}`);
  const name = path.posix.basename(norm);
  const dir = resolveInRoot(rootfs, path.posix.dirname(norm));
  return { dir, name };
}

/** lstat, undefined when absent. */
async function lstatOrNone(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch {
    return undefined;
  }
}

/** Counts entries so a copy stays bounded. */
class Budget {
  private n = 0;
  take(): void {
    if (++this.n > COPY_MAX_ENTRIES) throw invalidArgument(`the copy has more than ${COPY_MAX_ENTRIES} entries`);
  }
}

/**
 * Writes a copy of host entry `src` (lstat'ed) at `dst`, which lies in a
 * directory that is no link: an existing link or file at `dst` is replaced,
 * an existing directory merged into. Below `dst` nothing is followed.
 */
async function copyEntry(src: string, dst: string, owner: { uid: number; gid: number } | undefined, budget: Budget): Promise<void> {
  budget.take();
  const st = await fs.promises.lstat(src);
  const existing = await lstatOrNone(dst);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await fs.promises.rm(dst, { force: true });
    if (!existing || !existing.isDirectory()) await fs.promises.mkdir(dst, { mode: st.mode & 0o7777 });
    for (const name of await fs.promises.readdir(src)) await copyEntry(path.join(src, name), path.join(dst, name), owner, budget);
    await fs.promises.chmod(dst, st.mode & 0o7777);
  } else if (st.isSymbolicLink()) {
    if (existing) await fs.promises.rm(dst, { recursive: existing.isDirectory(), force: true });
    await fs.promises.symlink(await fs.promises.readlink(src), dst);
    if (owner) await fs.promises.lchown(dst, owner.uid, owner.gid);
    return;
  } else if (st.isFile()) {
    if (existing && !existing.isFile()) await fs.promises.rm(dst, { recursive: existing.isDirectory(), force: true });
    const out = await fs.promises.open(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, st.mode & 0o7777);
    try {
      const input = await fs.promises.open(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        const buf = Buffer.alloc(1024 * 1024);
        for (;;) {
          const { bytesRead } = await input.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          await out.write(buf, 0, bytesRead);
        }
      } finally {
        await input.close();
      }
      await out.chmod(st.mode & 0o7777);
    } finally {
      await out.close();
    }
  } else {
    // Devices, FIFOs, sockets: not copied (as Podman without --archive semantics would fail on them anyway).
    return;
  }
  if (owner) await fs.promises.lchown(dst, owner.uid, owner.gid);
  await fs.promises.lutimes(dst, st.atime, st.mtime);
}

/**
 * Copies host path `hostSrc` into the container at `ctrDest` (see the
 * module doc); the container must be frozen or stopped by the caller. An
 * existing destination is resolved the way the container sees it (links
 * kept inside the rootfs): a directory receives the source, anything else
 * is replaced; a missing one is made in its (resolved) parent directory.
 * @throws NotFoundError when the source or the destination's parent is
 *   missing; InvalidArgumentError for a destination whose parent is no
 *   directory, or a copy of too many entries.
 */
export async function copyIntoRootfs(rootfs: string, hostSrc: string, ctrDest: string): Promise<void> {
  const srcSt = await lstatOrNone(hostSrc);
  if (!srcSt) throw notFound(`"${hostSrc}" does not exist on the host`);
  const contents = /\/\.$/.test(hostSrc) && srcSt.isDirectory();
  const norm = path.posix.normalize(`/${ctrDest}`);
  const full = resolveInRoot(rootfs, norm);
  const fullSt = full ? await lstatOrNone(full) : undefined;
  const owner = { uid: 0, gid: 0 };
  const budget = new Budget();
  if (contents) {
    let into = full;
    if (!fullSt) {
      const { dir, name } = resolveParent(rootfs, norm);
      if (!dir || !(await lstatOrNone(dir))?.isDirectory()) throw notFound(`the parent directory of "${ctrDest}" does not exist in the container`);
      into = path.join(dir, name);
      await fs.promises.mkdir(into, { mode: srcSt.mode & 0o7777 });
    } else if (!fullSt.isDirectory()) throw invalidArgument(`"${ctrDest}" is not a directory in the container`);
    for (const n of await fs.promises.readdir(hostSrc)) await copyEntry(path.join(hostSrc, n), path.join(into as string, n), owner, budget);
    return;
  }
  const srcName = path.basename(path.resolve(hostSrc));
  let dst: string;
  if (fullSt?.isDirectory()) dst = path.join(full as string, srcName);
  else if (fullSt) dst = full as string;
  else {
    const { dir, name } = resolveParent(rootfs, norm);
    if (!dir) throw notFound(`the parent directory of "${ctrDest}" does not exist in the container`);
    if (!(await lstatOrNone(dir))?.isDirectory()) throw invalidArgument(`the parent of "${ctrDest}" is not a directory in the container`);
    dst = path.join(dir, name);
  }
  // Below `dst` copyEntry follows nothing: a link met there is replaced.
  await copyEntry(hostSrc, dst, owner, budget);
}

/**
 * Copies the container's path `ctrSrc` to host path `hostDest` (see the
 * module doc). The source is resolved inside the rootfs; if it is itself a
 * link, the link is copied.
 * @throws NotFoundError when the source or the destination's parent is missing.
 */
export async function copyOutOfRootfs(rootfs: string, ctrSrc: string, hostDest: string): Promise<void> {
  const contents = /\/\.$/.test(ctrSrc);
  const norm = path.posix.normalize(`/${ctrSrc}`);
  const src = norm === '/' ? rootfs : (() => {
    const { dir, name } = resolveParent(rootfs, norm);
    return dir ? path.join(dir, name) : undefined;
  })();
  const srcSt = src ? await lstatOrNone(src) : undefined;
  if (!src || !srcSt) throw notFound(`"${ctrSrc}" does not exist in the container`);
  const destSt = await lstatOrNone(hostDest).then(async (st) => (st?.isSymbolicLink() ? fs.promises.stat(hostDest).catch(() => undefined) : st));
  const budget = new Budget();
  if (contents && srcSt.isDirectory()) {
    if (destSt && !destSt.isDirectory()) throw invalidArgument(`"${hostDest}" is not a directory`);
    if (!destSt) await fs.promises.mkdir(hostDest, { mode: srcSt.mode & 0o7777 });
    for (const n of await fs.promises.readdir(src)) await copyEntry(path.join(src, n), path.join(hostDest, n), undefined, budget);
    return;
  }
  if (!destSt && !(await lstatOrNone(path.dirname(path.resolve(hostDest))))?.isDirectory()) throw notFound(`the parent directory of "${hostDest}" does not exist`);
  const dst = destSt?.isDirectory() ? path.join(hostDest, path.posix.basename(norm) || 'rootfs') : hostDest;
  await copyEntry(src, dst, undefined, budget);
}
