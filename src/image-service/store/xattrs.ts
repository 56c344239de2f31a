/**
 * Extended attributes by the bytes: Node has no setxattr, so a layer's
 * attributes are written by one `setfattr -h --restore=-` (Debian `attr`)
 * per layer, from a dump in getfattr's `--dump` format whose values are
 * base64 (`0s…`), so every byte arrives exactly as the archive held it.
 */
import { execFileSync } from 'node:child_process';

/** Extended attributes of one path (relative to the directory setfattr runs in). */
export interface PathXattrs {
  path: string;
  xattrs: [string, Buffer][];
}

/**
 * Escapes a path or attribute name for the dump format: every byte outside
 * printable ASCII, space, `\` and `=` become `\ooo` (three octal digits),
 * which is what setfattr's restore turns back into bytes.
 */
export function escapeDumpField(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

/** The dump text setfattr `--restore` reads: `# file: P`, then `name=0s<base64>` lines, a blank line between files. */
export function xattrDump(entries: PathXattrs[]): string {
  let out = '';
  for (const e of entries) {
    if (e.xattrs.length === 0) continue;
    out += `# file: ${escapeDumpField(e.path)}\n`;
    for (const [name, value] of e.xattrs) out += `${escapeDumpField(name)}=0s${value.toString('base64')}\n`;
    out += '\n';
  }
  return out;
}

/**
 * Sets the attributes with one `setfattr -h --restore=-` run in `cwd`
 * (symlinks are not followed). Synchronous: for the layer worker thread.
 * @throws Error with setfattr's message when it fails.
 */
export function restoreXattrs(cwd: string, entries: PathXattrs[]): void {
  const dump = xattrDump(entries);
  if (!dump) return;
  try {
    execFileSync('setfattr', ['-h', '--restore=-'], { cwd, input: dump, stdio: ['pipe', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`setting extended attributes failed: ${stderr || (err as Error).message}`);
  }
}
