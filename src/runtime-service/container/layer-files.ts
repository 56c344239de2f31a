/**
 * Reads a file of an image's merged root file system straight from its
 * layer directories, without mounting them: what a CreateContainer that
 * leaves the rootfs mount to StartContainer (the create/start split,
 * docs/architecture.md) needs to resolve a user name (/etc/passwd,
 * /etc/group). Not wired yet: today's CreateContainer mounts the rootfs
 * and reads them there (oci/user.ts readInRoot).
 *
 * The lookup is overlayfs' own (Linux `fs/overlayfs/namei.c`), over layers
 * unpacked by the image store (image-service/store/unpack.ts):
 * - each path component is looked up in the layers, top-most first; the
 *   first layer holding the name decides: a whiteout (a 0/0 character
 *   device) hides it, a symlink is followed, a file ends the walk, a
 *   directory merges with the directories of that name below it, down to
 *   the first opaque one (`trusted.overlay.opaque=y`, or `user.overlay.opaque`
 *   for layers made in a user namespace) or the first layer where the name
 *   is not a directory;
 * - symlinks resolve inside the merged root, as the container sees them:
 *   an absolute target restarts at the root and `..` never climbs above it,
 *   so `/etc/passwd -> /host/etc/passwd` can never reach a host file
 *   (oci/user.ts resolveInRoot does the same on a mounted rootfs); at most
 *   40 links are followed, as the kernel does.
 *
 * Opaque markers are extended attributes, which Node cannot read: without
 * peapod's addon (common/host/host-addon.ts lgetxattr) the reader answers
 * `undefined` for "cannot tell" and the caller mounts the rootfs instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lgetxattr } from '../../common/host/host-addon';
import { opaqueXattr } from '../../image-service/store/unpack';
import type { LayerStack } from './rootfs';

/** Symlinks followed at most in one lookup (the kernel's MAXSYMLINKS). */
const MAX_LINKS = 40;

/** Largest file read, in bytes: a passwd or group file larger than this is refused as not found. */
export const MAX_LAYER_FILE_BYTES = 4 * 1024 * 1024;

/** The addon is missing: the layers cannot be read without a mount. */
class NoXattrs extends Error {}

/** Whether `st` is overlayfs' whiteout: a character device 0/0. */
function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

/** The result of looking one name up in a merged directory. */
type Found =
  | { kind: 'none' }
  | { kind: 'link'; target: string }
  | { kind: 'file'; host: string; st: fs.Stats }
  | { kind: 'dir'; layers: string[] };

/**
 * Looks `rel` (a path of real directories, no links, relative to each
 * layer root) + `name` up in `layers` (the roots under which `rel` is a
 * merged directory, top-most first).
 */
function lookup(layers: readonly string[], rel: string[], name: string, opaqueName: string): Found {
  const below: string[] = [];
  let first: fs.Stats | undefined;
  for (const root of layers) {
    const host = path.join(root, ...rel, name);
    const st = lstatOrUndefined(host);
    if (!st) continue;
    if (!first) {
      first = st;
      if (isWhiteout(st)) return { kind: 'none' };
      if (st.isSymbolicLink()) return { kind: 'link', target: fs.readlinkSync(host) };
      if (!st.isDirectory()) return { kind: 'file', host, st };
    } else if (!st.isDirectory()) {
      break; // a lower non-directory (or whiteout) ends the merge
    }
    below.push(root);
    const marker = lgetxattr(host, opaqueName);
    if (marker === undefined) throw new NoXattrs();
    if (marker !== null && marker.toString() === 'y') break;
  }
  return first ? { kind: 'dir', layers: below } : { kind: 'none' };
}

/**
 * The text of `file` (an absolute path inside the container) in the merged
 * view of `layers` (see the module doc).
 * @param options.userNamespace read the markers a user namespace writes (`user.overlay.opaque`)
 * @returns the text; null when the file is absent, hidden by a whiteout, not
 *   a regular file, over MAX_LAYER_FILE_BYTES or behind too many links;
 *   undefined when opaque markers cannot be read here (no addon): mount instead.
 */
export function readInLayers(layers: LayerStack, file: string, options: { userNamespace: boolean }): string | null | undefined {
  const roots = layers.lowers.map((l) => path.resolve(layers.linkDir, l));
  const opaqueName = opaqueXattr(options.userNamespace);
  let parts = file.split('/').filter((p) => p !== '' && p !== '.');
  let links = 0;
  try {
    for (;;) {
      // A walk from the root over `parts`; a link or `..` restarts it with the path rewritten.
      let dirs: string[] = roots;
      const done: string[] = [];
      let restart: string[] | undefined;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (part === '..') {
          restart = [...done.slice(0, -1), ...parts.slice(i + 1)];
          break;
        }
        const found = lookup(dirs, done, part, opaqueName);
        if (found.kind === 'none') return null;
        if (found.kind === 'link') {
          if (++links > MAX_LINKS) return null;
          const target = found.target.split('/').filter((p) => p !== '' && p !== '.');
          restart = [...(found.target.startsWith('/') ? [] : done), ...target, ...parts.slice(i + 1)];
          break;
        }
        if (found.kind === 'file') {
          if (i !== parts.length - 1 || !found.st.isFile() || found.st.size > MAX_LAYER_FILE_BYTES) return null;
          return fs.readFileSync(found.host, 'utf8');
        }
        dirs = found.layers;
        done.push(part);
      }
      if (!restart) return null; // the path names a directory (or the root)
      parts = restart;
    }
  } catch (err) {
    if (err instanceof NoXattrs) return undefined;
    return null;
  }
}
