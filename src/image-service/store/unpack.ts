/**
 * Applies one layer's tar entries to an empty directory that overlayfs can
 * use as a lower layer. Synchronous by design: it runs in a layer worker
 * thread (see layer-job.ts), fed by TarReader, never on the event loop.
 *
 * Semantics (OCI image-spec `layer.md`, and tar's):
 * - Names are normalized as containerd's `archive/tar.go` does (a leading
 *   `/`, `.` and `a/..` are resolved lexically into the root), except that
 *   a name whose `..` climbs above the root is refused, where containerd
 *   clamps it to the root: such an archive is hostile, not sloppy.
 * - The later entry wins: an entry replaces whatever an earlier entry of the
 *   same layer left at its path (a directory replaced by a file drops the
 *   directory's subtree; two directories merge), and a non-directory
 *   standing where a later entry needs a parent directory gives way to that
 *   directory.
 * - Whiteouts apply to lower layers only. `.wh.NAME` becomes overlayfs'
 *   whiteout (a 0/0 character device, hard-linked to one per layer so a
 *   layer costs one `mknod`, as overlayfs itself shares whiteouts) unless
 *   this layer has an entry NAME: a file or other non-directory already
 *   hides the lower NAME, and a directory becomes opaque (its lower
 *   namesake's contents are hidden, its own entries stay). A later entry
 *   NAME replaces the whiteout (a directory then is opaque).
 *   `.wh..wh..opq` makes its directory opaque (`trusted.overlay.opaque=y`);
 *   other `.wh..wh.*` names are AUFS metadata and are skipped.
 * - Entry types: files, directories, symlinks, hard links, character and
 *   block devices and FIFOs (`mknod`, `mkfifo`); uid, gid, mode (with
 *   setuid/setgid/sticky) and mtime are applied; PAX `SCHILY.xattr.*`
 *   records become extended attributes with their exact bytes (one
 *   `setfattr --restore` per layer, at the end, after ownership is final:
 *   chown would clear `security.capability`). `trusted.overlay.*` from an
 *   image is dropped (only our own opaque markers set it), as are `user.*`
 *   on anything but files and directories (Linux refuses them).
 * - In a user namespace (rootless peapod, docs/rootless.md) the layer is
 *   made for overlayfs mounted with `userxattr` (Linux 5.11) or for
 *   fuse-overlayfs, both of which read `user.overlay.opaque`: opaque
 *   directories get that instead of `trusted.overlay.opaque` (trusted.* needs
 *   CAP_SYS_ADMIN of the host), `trusted.*` and `user.overlay.*` from an
 *   image are dropped, and device nodes are skipped (mknod of a device is
 *   refused in a user namespace; containers/storage skips them too; the
 *   container's /dev is a tmpfs anyway). Whiteouts stay 0/0 character
 *   devices, which Linux 5.8 and later let a user namespace make. An entry
 *   owned by an ID the namespace does not map fails with a message naming
 *   the entry, the ID and the map (the user needs more subordinate IDs).
 * - Safety: every parent is walked component by component with lstat, and
 *   a symlink on the way is refused, so nothing is ever written outside the
 *   layer or through a symlink; hard link targets obey the same rules. What
 *   is applied at the end (directory times, attributes) is applied only to
 *   paths still holding the same inode with no symlink on the way.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TarEntry, TarHandler } from './tar-reader';
import { PathXattrs, restoreXattrs } from './xattrs';
import { PeapodError } from '../../common/errors';
import { describeIdMap, inUserNamespace, parseIdMap } from '../../common/userns';

/** A layer entry that is unsafe or unsupported; the message names the entry. */
export class UnpackError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'UnpackError';
  }
}

/** What unpacking a layer found. */
export interface UnpackResult {
  /** Sum of regular file sizes (bytes). */
  size: number;
  /** Number of entries written. */
  entries: number;
}

/** Most entries one layer may hold: bounds the unpacker's bookkeeping (about 100 bytes per directory). */
export const MAX_LAYER_ENTRIES = 2_000_000;

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** Hard links per whiteout prototype, below ext4's 65000 links per inode. */
const LINKS_PER_WHITEOUT = 60_000;

/**
 * Normalizes an entry name into components under the layer root: a leading
 * `/`, empty and `.` components go, `a/..` cancels (lexically, as Go's
 * filepath.Clean does for containerd).
 * @returns the components; empty for the root itself.
 * @throws UnpackError when a `..` would climb above the root.
 */
export function normalizeEntryName(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw new UnpackError(`layer entry "${name}" escapes the layer with ".."`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

function lstat(p: string): fs.Stats | undefined {
  return fs.lstatSync(p, { throwIfNoEntry: false });
}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

/** A deferred attribute set: applied at the end if the path still holds inode `ino`. */
interface XattrRecord {
  ino: number;
  attrs: Map<string, Buffer>;
}

/** How a layer is unpacked. */
export interface UnpackOptions {
  /**
   * Unpack for a user namespace (see the module doc). Default: whether this
   * process runs in one (`inUserNamespace`).
   */
  userNamespace?: boolean;
}

/** The opaque-directory marker overlayfs reads: trusted.* normally, user.* with `userxattr` (and fuse-overlayfs). */
export function opaqueXattr(userNamespace: boolean): string {
  return userNamespace ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
}

/** Describes this process's ID maps for an error message (`uids 0-65536 (host …)`). */
function mappedIds(): string {
  try {
    const uids = parseIdMap(fs.readFileSync('/proc/self/uid_map', 'utf8'));
    const gids = parseIdMap(fs.readFileSync('/proc/self/gid_map', 'utf8'));
    return `uids ${describeIdMap(uids)}, gids ${describeIdMap(gids)}`;
  } catch {
    return 'unknown IDs';
  }
}

/**
 * Applies tar entries to `dest` (an empty directory). Feed it from a
 * TarReader; call `finish()` after the archive ended, or `abort()`.
 */
export class LayerUnpacker implements TarHandler {
  /** Relative paths known to be real directories of this layer (created or verified). */
  private readonly dirs = new Set<string>();
  /** Relative paths holding a whiteout this unpacker made. */
  private readonly whiteouts = new Set<string>();
  private readonly dirTimes = new Map<string, { ino: number; mtime: number }>();
  private readonly xattrs = new Map<string, XattrRecord>();
  private readonly protos: string[] = [];
  private protoLinks = LINKS_PER_WHITEOUT;
  private fd: number | undefined;
  private current: { entry: TarEntry; rel: string; abs: string } | undefined;
  private seen = 0;
  readonly result: UnpackResult = { size: 0, entries: 0 };
  /** Unpacking for a user namespace (see UnpackOptions). */
  private readonly userns: boolean;
  /** The opaque marker this layer gets. */
  private readonly opaque: string;

  /**
   * @param dest the layer's directory (empty)
   * @param workDir a private directory on the same filesystem, outside
   *   `dest`, for the whiteout prototypes (removed by `finish`)
   * @param options user namespace or not (default: as this process runs)
   */
  constructor(
    private readonly dest: string,
    private readonly workDir: string,
    options: UnpackOptions = {},
  ) {
    this.userns = options.userNamespace ?? inUserNamespace();
    this.opaque = opaqueXattr(this.userns);
  }

  /**
   * Gives `abs` (or the open `fd`) the entry's owner.
   * @throws UnpackError when the user namespace does not map that owner.
   */
  private chown(e: TarEntry, abs: string, fd?: number): void {
    try {
      if (fd !== undefined) fs.fchownSync(fd, e.uid, e.gid);
      else fs.lchownSync(abs, e.uid, e.gid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !this.userns) throw err;
      throw new UnpackError(
        `layer entry "${e.name}" is owned by uid ${e.uid} and gid ${e.gid}, which this user namespace does not map (${mappedIds()}): ` +
          'the user needs subordinate IDs covering them in /etc/subuid and /etc/subgid',
      );
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.dest : `${this.dest}/${rel}`;
  }

  /** Forgets what is recorded for `rel` and, when it was a directory, everything under it. */
  private forget(rel: string, wasDir: boolean): void {
    this.whiteouts.delete(rel);
    this.dirs.delete(rel);
    this.dirTimes.delete(rel);
    this.xattrs.delete(rel);
    if (!wasDir) return;
    const prefix = rel + '/';
    for (const set of [this.dirs, this.whiteouts]) for (const k of set) if (k.startsWith(prefix)) set.delete(k);
    for (const map of [this.dirTimes, this.xattrs] as Map<string, unknown>[]) for (const k of map.keys()) if (k.startsWith(prefix)) map.delete(k);
  }

  /**
   * Removes what an earlier entry left at `rel`, unless it is a directory
   * and `keepDir`.
   * @returns whether a directory was kept and whether a whiteout was replaced.
   */
  private clear(rel: string, keepDir: boolean): { kept: boolean; wasWhiteout: boolean } {
    const abs = this.abs(rel);
    const st = lstat(abs);
    if (!st) return { kept: false, wasWhiteout: false };
    if (st.isDirectory()) {
      if (keepDir) return { kept: true, wasWhiteout: false };
      fs.rmSync(abs, { recursive: true, force: true });
    } else fs.unlinkSync(abs);
    const wasWhiteout = this.whiteouts.has(rel);
    this.forget(rel, st.isDirectory());
    return { kept: false, wasWhiteout };
  }

  /**
   * Makes every parent of `parts` a real directory of this layer: missing
   * ones are created 0755; a non-directory gives way (the later entry
   * wins); a symlink is refused.
   * @returns the parent's relative path ('' for the root).
   */
  private parents(parts: string[], entryName: string): string {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i] : `${rel}/${parts[i]}`;
      if (this.dirs.has(rel)) continue;
      const abs = this.abs(rel);
      const st = lstat(abs);
      if (!st) fs.mkdirSync(abs, { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new UnpackError(`layer entry "${entryName}" would be written through the symlink "${rel}"`);
      else if (!st.isDirectory()) {
        const { wasWhiteout } = this.clear(rel, false);
        fs.mkdirSync(abs, { mode: 0o755 });
        if (wasWhiteout) this.markOpaque(rel);
      }
      this.dirs.add(rel);
    }
    return rel;
  }

  /** Walks an existing path (a hard link's target) without creating or following anything. */
  private existing(parts: string[], entryName: string, linkname: string): { rel: string; st: fs.Stats } {
    let rel = '';
    for (let i = 0; i < parts.length; i++) {
      rel = rel === '' ? parts[i] : `${rel}/${parts[i]}`;
      if (i < parts.length - 1 && this.dirs.has(rel)) continue;
      const st = lstat(this.abs(rel));
      if (!st || (i === parts.length - 1 && this.whiteouts.has(rel))) throw new UnpackError(`layer entry "${entryName}": hard link target "${linkname}" is not in this layer`);
      if (i === parts.length - 1) return { rel, st };
      if (st.isSymbolicLink()) throw new UnpackError(`layer entry "${entryName}": hard link target "${linkname}" goes through the symlink "${rel}"`);
      if (!st.isDirectory()) throw new UnpackError(`layer entry "${entryName}": hard link target "${linkname}" is not in this layer`);
    }
    throw new UnpackError(`layer entry "${entryName}": hard link to the layer root`);
  }

  private markOpaque(rel: string): void {
    const st = lstat(this.abs(rel));
    if (!st?.isDirectory()) return;
    const rec = this.xattrs.get(rel);
    if (rec && rec.ino === st.ino) rec.attrs.set(this.opaque, Buffer.from('y'));
    else this.xattrs.set(rel, { ino: st.ino, attrs: new Map([[this.opaque, Buffer.from('y')]]) });
  }

  private recordXattrs(rel: string, e: TarEntry, st: fs.Stats): void {
    const regularOrDir = st.isFile() || st.isDirectory();
    let rec = this.xattrs.get(rel);
    if (rec && rec.ino !== st.ino) rec = undefined;
    for (const [name, value] of e.xattrs) {
      if (!name || name.startsWith('trusted.overlay.')) continue; // only our own opaque markers may set these
      if (this.userns && (name.startsWith('trusted.') || name.startsWith('user.overlay.'))) continue; // out of reach, or ours (userxattr)
      if (name.startsWith('user.') && !regularOrDir) continue; // Linux allows user.* on files and directories only
      rec ??= { ino: st.ino, attrs: new Map() };
      rec.attrs.set(name, value);
    }
    if (rec) this.xattrs.set(rel, rec);
  }

  private whiteout(rel: string): void {
    if (this.protoLinks >= LINKS_PER_WHITEOUT) {
      const proto = path.join(this.workDir, `whiteout-${this.protos.length}`);
      run('mknod', ['-m', '0000', proto, 'c', '0', '0']);
      this.protos.push(proto);
      this.protoLinks = 0;
    }
    fs.linkSync(this.protos[this.protos.length - 1], this.abs(rel));
    this.protoLinks++;
    this.whiteouts.add(rel);
  }

  /** TarHandler: one entry's header. */
  entry(e: TarEntry): void {
    if (++this.seen > MAX_LAYER_ENTRIES) throw new UnpackError(`layer has more than ${MAX_LAYER_ENTRIES} entries`);
    const parts = normalizeEntryName(e.name);
    if (parts.length === 0) return; // the layer root itself ("./")
    const base = parts[parts.length - 1];
    const parent = this.parents(parts, e.name);
    const join = (name: string): string => (parent === '' ? name : `${parent}/${name}`);
    if (base === OPAQUE) {
      this.markOpaque(parent);
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw new UnpackError(`layer entry "${e.name}" is a whiteout without a valid name`);
      if (hidden.startsWith(WHITEOUT_PREFIX)) return; // AUFS metadata (.wh..wh.plnk, …)
      const rel = join(hidden);
      const st = lstat(this.abs(rel));
      if (!st) {
        this.whiteout(rel);
        this.result.entries++;
      } else if (st.isDirectory() && !this.whiteouts.has(rel)) {
        // This layer's directory stays; its lower namesake is hidden.
        this.markOpaque(rel);
      }
      return;
    }
    const rel = join(base);
    const abs = this.abs(rel);
    switch (e.type) {
      case 'file': {
        this.clear(rel, false);
        this.fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        this.current = { entry: e, rel, abs };
        return; // finished in entryEnd
      }
      case 'directory': {
        const { kept, wasWhiteout } = this.clear(rel, true);
        if (!kept) fs.mkdirSync(abs, { mode: 0o700 });
        this.dirs.add(rel);
        if (wasWhiteout) this.markOpaque(rel);
        break;
      }
      case 'symlink':
        this.clear(rel, false);
        fs.symlinkSync(e.linkname, abs);
        break;
      case 'link': {
        const srcParts = normalizeEntryName(e.linkname);
        if (srcParts.length === 0) throw new UnpackError(`layer entry "${e.name}": hard link to the layer root`);
        const src = this.existing(srcParts, e.name, e.linkname);
        if (src.st.isDirectory()) throw new UnpackError(`layer entry "${e.name}": hard link to a directory`);
        if (src.rel === rel) return; // a link to itself
        this.clear(rel, false);
        fs.linkSync(this.abs(src.rel), abs);
        this.result.entries++;
        return; // a hard link shares its target's metadata
      }
      case 'character-device':
      case 'block-device':
        this.clear(rel, false);
        if (this.userns) return; // a user namespace cannot make devices: the entry only removes what was there
        run('mknod', ['-m', '0600', abs, e.type === 'character-device' ? 'c' : 'b', String(e.devmajor), String(e.devminor)]);
        break;
      case 'fifo':
        this.clear(rel, false);
        run('mkfifo', ['-m', '0600', abs]);
        break;
    }
    this.chown(e, abs);
    if (e.type !== 'symlink') fs.chmodSync(abs, e.mode);
    const st = fs.lstatSync(abs);
    if (e.type === 'directory') this.dirTimes.set(rel, { ino: st.ino, mtime: e.mtime });
    else fs.lutimesSync(abs, e.mtime, e.mtime);
    if (e.type !== 'symlink') this.recordXattrs(rel, e, st);
    this.result.entries++;
  }

  /** TarHandler: a chunk of the current entry's data. */
  data(chunk: Buffer): void {
    if (this.fd === undefined) return; // data of an entry that is not a file (a whiteout with content)
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }

  /** TarHandler: the current entry's data is complete. */
  entryEnd(): void {
    if (this.fd === undefined || !this.current) return;
    const { entry: e, rel } = this.current;
    const fd = this.fd;
    this.fd = undefined;
    this.current = undefined;
    try {
      // chown first: it clears setuid/setgid, which the chmod after it sets.
      this.chown(e, rel, fd);
      fs.fchmodSync(fd, e.mode);
      fs.futimesSync(fd, e.mtime, e.mtime);
      this.recordXattrs(rel, e, fs.fstatSync(fd));
    } finally {
      fs.closeSync(fd);
    }
    this.result.size += e.size;
    this.result.entries++;
  }

  /**
   * Applies what waits for the end (extended attributes, directory times),
   * each only where its path still holds the same inode with no symlink on
   * the way, and removes the whiteout prototypes.
   * @returns sizes and counts.
   */
  finish(): UnpackResult {
    if (this.fd !== undefined) throw new UnpackError(`layer ends inside the entry "${this.current?.entry.name}"`);
    const verified = new Map<string, boolean>();
    const sameInode = (rel: string, ino: number): boolean => {
      const parts = rel === '' ? [] : rel.split('/');
      let prefix = '';
      for (let i = 0; i < parts.length - 1; i++) {
        prefix = prefix === '' ? parts[i] : `${prefix}/${parts[i]}`;
        let ok = verified.get(prefix);
        if (ok === undefined) {
          const st = lstat(this.abs(prefix));
          ok = st !== undefined && st.isDirectory();
          verified.set(prefix, ok);
        }
        if (!ok) return false;
      }
      const st = lstat(this.abs(rel));
      return st !== undefined && !st.isSymbolicLink() && st.ino === ino;
    };
    const attrs: PathXattrs[] = [];
    for (const [rel, rec] of this.xattrs) if (sameInode(rel, rec.ino)) attrs.push({ path: rel === '' ? '.' : rel, xattrs: [...rec.attrs] });
    restoreXattrs(this.dest, attrs);
    // Directory times last: writing children changed them.
    for (const [rel, t] of this.dirTimes) if (sameInode(rel, t.ino)) fs.lutimesSync(this.abs(rel), t.mtime, t.mtime);
    for (const p of this.protos) fs.rmSync(p, { force: true });
    return this.result;
  }

  /** Closes what is open; the caller removes `dest`. */
  abort(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
