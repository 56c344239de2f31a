import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Durable files and directories, without blocking the event loop: every
 * fsync here runs on libuv's thread pool (fs.promises), so a slow disk
 * delays only the call that waits for it, never the other RPCs.
 */

/** One file for writeFilesAtomic. */
export interface AtomicFile {
  /** Destination path; its directory must exist. */
  file: string;
  /** The bytes or UTF-8 text to write. */
  data: string | Uint8Array;
  /** Mode of the new file (default 0600). */
  mode?: number;
}

let tmpCounter = 0;

/** A temp name beside `file`, unique in this process and across processes. */
function tempName(file: string): string {
  tmpCounter = (tmpCounter + 1) % 1e9;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tmpCounter}.tmp`);
}

/**
 * Writes several files so that a crash at any moment leaves each with either
 * its old content or its new one, never a mix, and every new content is on
 * disk when the promise resolves: each is written to a temp file beside it
 * and fsynced, renamed over its target, then each directory involved is
 * fsynced once. The files are written in parallel.
 *
 * @throws the underlying fs error; temp files are removed on failure (a
 *   file already renamed keeps its new content).
 */
export async function writeFilesAtomic(files: readonly AtomicFile[]): Promise<void> {
  const temps = files.map((f) => tempName(f.file));
  try {
    await Promise.all(
      files.map(async (f, i) => {
        const h = await fs.promises.open(temps[i], 'w', f.mode ?? 0o600);
        try {
          await h.writeFile(f.data);
          await h.sync();
        } finally {
          await h.close();
        }
      }),
    );
    for (let i = 0; i < files.length; i++) await fs.promises.rename(temps[i], files[i].file);
  } catch (err) {
    await Promise.all(temps.map((t) => fs.promises.rm(t, { force: true })));
    throw err;
  }
  await syncDirs([...new Set(files.map((f) => path.dirname(f.file)))]);
}

/**
 * Writes `data` to `file` atomically and durably (see writeFilesAtomic).
 * @param file destination path; its directory must exist
 * @param data the bytes or UTF-8 text to write
 * @param mode file mode of the new file (default 0600)
 * @throws the underlying fs error; the temp file is removed on failure.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  return writeFilesAtomic([{ file, data, mode }]);
}

/**
 * Makes the entries of directories durable: fsyncs each (in parallel), so
 * names created, renamed or removed in them survive an OS crash. A new
 * directory is durable once it and its parent are synced.
 * @throws the fs error of a directory that cannot be opened or synced.
 */
export async function syncDirs(dirs: readonly string[]): Promise<void> {
  await Promise.all(
    dirs.map(async (d) => {
      const h = await fs.promises.open(d, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }),
  );
}

/**
 * Removes temp files that `writeFilesAtomic` left in `dir` when the process
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
