/**
 * Unpacks one layer tar stream into a directory that overlayfs can use as a
 * lower layer.
 *
 * - Whiteouts (OCI image-spec `layer.md`): `.wh.NAME` becomes a character
 *   device 0/0 named NAME (overlayfs' whiteout); `.wh..wh..opq` marks its
 *   directory opaque with the xattr `trusted.overlay.opaque=y`.
 * - Entry types: files, directories, symlinks, hard links, character and
 *   block devices (`mknod`), FIFOs (`mkfifo`); mode, uid, gid and mtime are
 *   applied; PAX `SCHILY.xattr.*` records become xattrs (`setfattr`).
 * - Safety: names with a `..` component or an absolute name are refused;
 *   every parent is walked component by component with lstat, and a symlink
 *   on the way is refused, so nothing is ever written outside `dest` or
 *   through a symlink. Hard link targets obey the same rules.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import { PeapodError } from '../../common/errors';

const run = promisify(execFile);

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

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * Splits an entry name into safe components.
 * @throws UnpackError for absolute names and `..` components.
 */
export function safeComponents(name: string): string[] {
  if (name.startsWith('/')) throw new UnpackError(`layer entry "${name}" has an absolute path`);
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.some((c) => c === '..')) throw new UnpackError(`layer entry "${name}" escapes the layer with ".."`);
  return parts;
}

/**
 * Makes sure every parent of `parts` exists as a real directory under `root`
 * (creating missing ones 0755), refusing symlinks and non-directories on the way.
 * @returns the absolute path of the parent directory.
 */
function ensureParents(root: string, parts: string[], entryName: string): string {
  let cur = root;
  for (const c of parts.slice(0, -1)) {
    cur = path.join(cur, c);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch {
      st = undefined;
    }
    if (!st) fs.mkdirSync(cur, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new UnpackError(`layer entry "${entryName}" would be written through the symlink "${path.relative(root, cur)}"`);
    else if (!st.isDirectory()) throw new UnpackError(`layer entry "${entryName}": "${path.relative(root, cur)}" is not a directory`);
  }
  return cur;
}

/** Removes whatever is at `p` (not following symlinks), unless it is a directory and `keepDir`. */
function clearPath(p: string, keepDir: boolean): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    if (keepDir) return;
    fs.rmSync(p, { recursive: true, force: true });
  } else fs.unlinkSync(p);
}

async function setXattrs(p: string, xattrs: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(xattrs)) {
    if (name.startsWith('trusted.overlay.')) continue; // only our own opaque markers may set these
    await run('setfattr', ['-h', '-n', name, '-v', '0s' + Buffer.from(value, 'binary').toString('base64'), p]);
  }
}

function xattrsOf(h: tar.Header): Record<string, string> | undefined {
  const pax = h.pax as Record<string, string> | undefined;
  if (!pax) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(pax)) if (k.startsWith('SCHILY.xattr.')) out[k.slice('SCHILY.xattr.'.length)] = v;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Reads an uncompressed layer tar from `input` and writes it under `dest`
 * (which must exist and be empty).
 * @returns sizes and counts.
 * @throws UnpackError for unsafe entries; the caller discards `dest`.
 */
export async function unpackLayer(input: Readable, dest: string): Promise<UnpackResult> {
  const extract = tar.extract();
  const dirTimes: { p: string; mtime: Date }[] = [];
  const result: UnpackResult = { size: 0, entries: 0 };

  const handle = async (h: tar.Header, stream: Readable): Promise<void> => {
    const parts = safeComponents(h.name);
    if (parts.length === 0) {
      // the layer root itself ("./"): nothing to create
      stream.resume();
      return;
    }
    const base = parts[parts.length - 1];
    const parent = ensureParents(dest, parts, h.name);
    const mtime = h.mtime ?? new Date(0);
    if (base === OPAQUE) {
      stream.resume();
      await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', parent]);
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      stream.resume();
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw new UnpackError(`layer entry "${h.name}" is a whiteout without a valid name`);
      const target = path.join(parent, hidden);
      clearPath(target, false);
      await run('mknod', ['-m', '0000', target, 'c', '0', '0']);
      result.entries++;
      return;
    }
    const target = path.join(parent, base);
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'file':
      case 'contiguous-file': {
        clearPath(target, false);
        const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        await pipeline(stream, fs.createWriteStream('', { fd }));
        result.size += h.size ?? 0;
        break;
      }
      case 'directory':
        stream.resume();
        clearPath(target, true);
        if (!fs.existsSync(target)) fs.mkdirSync(target, { mode: 0o755 });
        dirTimes.push({ p: target, mtime });
        break;
      case 'symlink':
        stream.resume();
        clearPath(target, false);
        fs.symlinkSync(h.linkname ?? '', target);
        break;
      case 'link': {
        stream.resume();
        const srcParts = safeComponents(h.linkname ?? '');
        if (srcParts.length === 0) throw new UnpackError(`layer entry "${h.name}": hard link to the layer root`);
        const srcParent = ensureParents(dest, srcParts, h.linkname ?? '');
        const src = path.join(srcParent, srcParts[srcParts.length - 1]);
        const st = fs.lstatSync(src, { throwIfNoEntry: false });
        if (!st) throw new UnpackError(`layer entry "${h.name}": hard link target "${h.linkname}" is not in this layer`);
        if (st.isDirectory()) throw new UnpackError(`layer entry "${h.name}": hard link to a directory`);
        clearPath(target, false);
        fs.linkSync(src, target);
        result.entries++;
        return; // a hard link shares the target's metadata
      }
      case 'character-device':
      case 'block-device':
        stream.resume();
        clearPath(target, false);
        await run('mknod', ['-m', '0600', target, h.type === 'character-device' ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
        break;
      case 'fifo':
        stream.resume();
        clearPath(target, false);
        await run('mkfifo', ['-m', '0600', target]);
        break;
      default:
        stream.resume();
        throw new UnpackError(`layer entry "${h.name}" has an unsupported type ${String(h.type)}`);
    }
    fs.lchownSync(target, h.uid ?? 0, h.gid ?? 0);
    if (h.type !== 'symlink') fs.chmodSync(target, mode);
    const xattrs = xattrsOf(h);
    // Linux allows no user.* xattrs on symlinks; an image's symlink xattrs are dropped.
    if (xattrs && h.type !== 'symlink') await setXattrs(target, xattrs);
    if (h.type !== 'directory') fs.lutimesSync(target, mtime, mtime);
    result.entries++;
  };

  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      extract.destroy();
      input.destroy();
      reject(err);
    };
    extract.on('entry', (h, entry, next) => {
      const stream = entry as unknown as Readable;
      handle(h, stream).then(
        () => next(),
        (err: Error) => {
          stream.resume();
          fail(err);
        },
      );
    });
    extract.on('finish', () => {
      if (!failed) resolve();
    });
    extract.on('error', fail);
    input.on('error', fail);
    input.pipe(extract);
  });
  // Directory times last: writing children changed them.
  // lutimes: a later entry may have replaced a directory by a symlink, which must not be followed.
  for (const d of dirTimes.reverse()) fs.lutimesSync(d.p, d.mtime, d.mtime);
  return result;
}
