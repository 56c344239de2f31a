/**
 * A container's root file system changes, as a checkpoint archive carries
 * them (Podman's and CRI-O's crutils CRCreateRootFsDiffTar): `rootfs-diff.tar`
 * holds every file, directory, link and device the container added or
 * changed, with paths relative to the rootfs; `deleted.files` (a JSON array
 * of absolute paths) the files it removed from the image. A restore unpacks
 * the tar into the new container's rootfs, then removes the deleted files.
 *
 * They are read from the overlay upper dir (the container's writable layer):
 * - a whiteout (a character device 0/0) is a deleted file, not a tar entry;
 * - an opaque directory (xattr `trusted.overlay.opaque` or, with
 *   `userxattr`, `user.overlay.opaque` = y) hides everything the image has
 *   in it: each entry the lower layers have there and the upper dir does not
 *   is a deleted file (the directory itself is not, since a restore would
 *   then remove the new content too);
 * - everything else is a tar entry; hard links inside the upper dir stay
 *   hard links.
 * The walk uses fs.promises (the event loop keeps serving) and is bounded:
 * at most MAX_DIFF_ENTRIES entries.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import * as tar from 'tar-stream';

/** A tar header as tar-stream's pack takes it (name required, the rest defaulted). */
type TarHeader = Partial<tar.Header> & Pick<tar.Header, 'name'>;
import { invalidArgument, PeapodError } from '../../common/errors';
import { HostCommandError, runHostCommand } from '../../common/host/command';

/** Most entries (files, directories, whiteouts) walked in an upper dir. */
export const MAX_DIFF_ENTRIES = 1_000_000;

/** One entry of the upper dir: its path relative to the rootfs and its lstat. */
export interface UpperEntry {
  /** e.g. `etc/app.conf` (no leading slash). */
  rel: string;
  stat: fs.Stats;
}

/** The changes found in an upper dir. */
export interface RootfsChanges {
  /** Added or changed entries, parents before children. */
  entries: UpperEntry[];
  /** Absolute paths in the container that were deleted, sorted. */
  deleted: string[];
}

/** A whiteout of overlayfs: a character device with device number 0/0. */
export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * The opaque directories of an upper dir (relative paths), from one
 * `getfattr -R` run (Debian package attr); [] when none.
 * @throws PeapodError INTERNAL when getfattr cannot run.
 */
export async function opaqueDirs(upperDir: string): Promise<string[]> {
  let out: string;
  try {
    out = await runHostCommand('getfattr', ['--absolute-names', '-R', '-P', '-m', '^(trusted|user)\\.overlay\\.opaque$', '-d', upperDir], { timeoutMs: 120_000 });
  } catch (err) {
    // getfattr exits 1 when some file has no xattr support but still prints what it found.
    if (err instanceof HostCommandError && err.exitCode === 1 && err.stdout) out = err.stdout;
    else throw err;
  }
  const dirs: string[] = [];
  let file = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice('# file: '.length);
    else if (/^(trusted|user)\.overlay\.opaque="y"$/.test(line) && file) dirs.push(path.relative(upperDir, file));
  }
  return dirs;
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.lstat(p);
  } catch {
    return null;
  }
}

/**
 * Walks an upper dir into its changes (see the module doc).
 * @param upperDir the container's overlay upper dir
 * @param lowerDirs the overlay lower dirs, top first (for opaque directories)
 * @param opaque the opaque directories, relative (default: read with opaqueDirs)
 * @throws InvalidArgumentError when there are more than MAX_DIFF_ENTRIES entries.
 */
export async function rootfsChanges(upperDir: string, lowerDirs: string[], opaque?: string[]): Promise<RootfsChanges> {
  const opaqueSet = new Set(opaque ?? (await opaqueDirs(upperDir)));
  const entries: UpperEntry[] = [];
  const deleted = new Set<string>();
  let count = 0;
  const walk = async (rel: string): Promise<void> => {
    const dir = path.join(upperDir, rel);
    const names = (await fs.promises.readdir(dir)).sort();
    for (const name of names) {
      if (++count > MAX_DIFF_ENTRIES) throw invalidArgument(`the container's root file system has more than ${MAX_DIFF_ENTRIES} changed entries`);
      const childRel = rel ? `${rel}/${name}` : name;
      const st = await fs.promises.lstat(path.join(upperDir, childRel));
      if (isWhiteout(st)) {
        deleted.add(`/${childRel}`);
        continue;
      }
      entries.push({ rel: childRel, stat: st });
      if (st.isDirectory()) await walk(childRel);
    }
    if (rel && opaqueSet.has(rel)) {
      const inUpper = new Set(names);
      for (const lower of lowerDirs) {
        const lowerDir = path.join(lower, rel);
        const st = await lstatOrNull(lowerDir);
        if (!st?.isDirectory()) continue;
        for (const name of await fs.promises.readdir(lowerDir)) if (!inUpper.has(name)) deleted.add(`/${rel}/${name}`);
      }
    }
  };
  await walk('');
  return { entries, deleted: [...deleted].sort() };
}

function tarHeader(e: UpperEntry, upperDir: string, links: Map<string, string>): Promise<TarHeader | null> | TarHeader | null {
  const st = e.stat;
  const base = { name: e.rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) return { ...base, type: 'directory' };
  if (st.isSymbolicLink()) return fs.promises.readlink(path.join(upperDir, e.rel)).then((linkname) => ({ ...base, type: 'symlink', linkname }));
  if (st.isFile()) {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first) return { ...base, type: 'link', linkname: first };
      links.set(key, e.rel);
    }
    return { ...base, type: 'file', size: st.size };
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const rdev = BigInt(st.rdev);
    const devmajor = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const devminor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    return { ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor };
  }
  if (st.isFIFO()) return { ...base, type: 'fifo' };
  return null; // sockets are not carried (as tar does not)
}

/** Adds one entry to `pack`, streaming a file's content from disk. */
function addEntry(pack: tar.Pack, header: TarHeader, file?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (header.type !== 'file' || !file) {
      pack.entry(header, (err) => (err ? reject(err) : resolve()));
      return;
    }
    const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    const input = fs.createReadStream(file);
    input.on('error', (e) => {
      entry.destroy(e);
      reject(e);
    });
    input.pipe(entry);
  });
}

/** A file changed size while it was written into the tar (a running container writing it). */
export class RootfsDiffError extends PeapodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
    this.name = 'RootfsDiffError';
  }
}

/**
 * A tar stream (tar-stream's pack) piped into `out`.
 * @returns the pack, and `done`: resolves once `out` finished (every byte
 *   written), rejects with the first error of the pack or of `out`.
 */
export function tarInto(out: Writable): { pack: tar.Pack; done: Promise<void> } {
  const pack = tar.pack();
  const done = new Promise<void>((resolve, reject) => {
    pack.on('error', reject);
    out.on('error', reject);
    out.on('finish', resolve);
  });
  (pack as unknown as Readable).pipe(out);
  return { pack, done };
}

/**
 * Writes `rootfs-diff.tar`: the entries of `changes` from `upperDir` into
 * `out` (ended when done). A file whose size changed since the walk fails
 * the write (the caller pauses the container first).
 * @throws RootfsDiffError, or the fs error of a file that went away.
 */
export async function writeRootfsDiffTar(upperDir: string, changes: RootfsChanges, out: Writable): Promise<void> {
  const { pack, done } = tarInto(out);
  const links = new Map<string, string>();
  try {
    for (const e of changes.entries) {
      const header = await tarHeader(e, upperDir, links);
      if (!header) continue;
      const file = path.join(upperDir, e.rel);
      if (header.type === 'file') {
        const now = await fs.promises.lstat(file);
        if (now.size !== e.stat.size) throw new RootfsDiffError(`/${e.rel} changed size while the checkpoint was written`);
      }
      await addEntry(pack, header, file);
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    out.destroy();
    throw err;
  }
  await done;
}
