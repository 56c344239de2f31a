/**
 * Directories and files only peapod's own user may reach
 * (docs/security.md#permissions): container bundles, their config.json
 * (every env var, so Kubernetes Secrets), the state and image databases and
 * the unpacked image layers and writable layers (setuid programs and device
 * nodes an image or a container made) live below them.
 *
 * mkdir's mode applies only to directories it creates, and open's only to
 * files it creates: a directory made 0755 by an older peapod, a script or an
 * admin keeps that mode. So these helpers chmod every time, also what exists
 * already, and are called at the start of each front end and at each
 * creation.
 */
import * as fs from 'node:fs';

/** A directory of peapod's state: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** A file of peapod's state: owner read and write only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Makes `dir` (with its missing parents, made with `mode` too) and sets
 * `mode` on it, also when it existed with another mode.
 * @param mode the permission bits (default 0700)
 * @throws Error naming the directory when it is not a directory, or when
 *   another user owns it (that user could replace anything below it); the
 *   fs error when it cannot be made or changed.
 */
export function ensurePrivateDir(dir: string, mode = PRIVATE_DIR_MODE): void {
  fs.mkdirSync(dir, { recursive: true, mode });
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} is owned by uid ${st.uid}, not by this process's uid ${uid}: refusing to keep peapod's state there`);
  if ((st.mode & 0o7777) !== mode) fs.chmodSync(dir, mode);
}

/**
 * Sets `mode` on each of `files` that exists (a missing one is skipped).
 * @param mode the permission bits (default 0600)
 * @throws the fs error of a chmod that fails for another reason than ENOENT.
 */
export function restrictFiles(files: readonly string[], mode = PRIVATE_FILE_MODE): void {
  for (const f of files) {
    try {
      fs.chmodSync(f, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Makes sure the file `file` exists with `mode` before a library opens it
 * (SQLite creates a database with 0644 under the usual umask, and its -wal
 * and -shm files with the database's mode), and sets `mode` on it and on
 * `companions` (e.g. the -wal and -shm files) when they exist.
 * @throws the fs error when the file cannot be made or changed.
 */
export function ensurePrivateFile(file: string, companions: readonly string[] = [], mode = PRIVATE_FILE_MODE): void {
  fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, mode));
  restrictFiles([file, ...companions], mode);
}

/**
 * Why another host user could swap `dir` or something below it, or
 * undefined when none can: a directory a root process writes files into
 * that it did not make private itself (the kubelet's log directory, where
 * conmon, as root, creates and appends the container's log). Every
 * directory from `/` down to `dir` (symbolic links resolved) must be owned
 * by root or by this process's user and not writable by group or others,
 * unless sticky (as /tmp is: there nobody else can rename or delete what is
 * ours). Otherwise that user could put a symbolic link where the log will
 * be and have root write into, or read, a file of their choice. The
 * kubelet's /var/log/pods (root, 0755) passes; a directory a user made in
 * /tmp does not. containerd and CRI-O do not check this; peapod does, as
 * OpenSSH checks its StrictModes paths.
 * @param dir an existing directory
 * @returns a sentence naming the directory at fault and its owner or mode.
 * @throws the fs error when `dir` cannot be resolved or read.
 */
export function untrustedDirectoryProblem(dir: string): string | undefined {
  const uid = process.geteuid?.() ?? 0;
  let p = fs.realpathSync(dir);
  for (;;) {
    const st = fs.statSync(p);
    if (!st.isDirectory()) return `${p} is not a directory`;
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}, who could replace what peapod writes below it`;
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return `${p} is writable by other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, not sticky)`;
    const parent = p.substring(0, p.lastIndexOf('/')) || '/';
    if (parent === p) return undefined;
    p = parent;
  }
}
