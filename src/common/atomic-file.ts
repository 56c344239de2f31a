import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes `data` to `file` so that a crash at any moment leaves either the old
 * content or the new, never a mix: write a temp file beside it, fsync it,
 * rename it over the target, fsync the directory.
 *
 * @param file destination path; its directory must exist
 * @param data the bytes or UTF-8 text to write
 * @param mode file mode of the new file (default 0600)
 * @throws the underlying fs error; the temp file is removed on failure.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w', mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * Removes temp files that `writeFileAtomic` left in `dir` when the process
 * died between write and rename. Call once at start, before reading state.
 */
export function removeAtomicLeftovers(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('.') && n.endsWith('.tmp')) fs.rmSync(path.join(dir, n), { force: true });
}
