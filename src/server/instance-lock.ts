/**
 * At most one peapod-cri per root and per runroot. Two servers on one root
 * would each recover, watch exits and roll back "abandoned" creations of the
 * other; two on one runroot (with different roots) would each remove the
 * other's bundles as files without a record. The CLI shares both with a
 * peapod-cri by design (its records carry owner `cli`) and takes neither lock.
 *
 * Each lock is a row of a `locks` table naming its holder by pid and kernel
 * start time (common/process-lock.ts), written in one IMMEDIATE transaction:
 * the root's in `<root>/state.db`, the runroot's in `<runroot>/peapod-cri.lock`
 * (a small SQLite database of its own, since two roots have two state
 * databases). A server killed with SIGKILL leaves a row the next start
 * recognises as dead and takes over, also when its pid was reused.
 * containerd gets the same from bbolt's exclusive flock on its meta.db: a
 * second containerd on one root waits for it, warning after 10 s
 * (plugins/metadata/plugin.go); peapod refuses at once instead, naming the
 * holder (Node has no flock).
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateFile } from '../common/host/private-paths';
import { LOCKS_TABLE_SQL, ProcessLocks } from '../common/process-lock';

/** The key of both locks. */
const LOCK_KEY = 'peapod-cri';

/** The runroot's lock database. */
export function runrootLockPath(runroot: string): string {
  return path.join(runroot, 'peapod-cri.lock');
}

/** Another live peapod-cri holds the root or the runroot. */
export class InstanceLockedError extends Error {
  /**
   * @param what `root` or `runroot`
   * @param dir the directory
   * @param pid the other server's pid
   */
  constructor(
    readonly what: 'root' | 'runroot',
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`another peapod-cri (pid ${pid}) is using the ${what} ${dir}; stop it first or give this one another --${what}`);
    this.name = 'InstanceLockedError';
  }
}

/** The locks one server holds; `release` gives both up (also safe when never taken). */
export interface InstanceLock {
  release(): void;
}

/**
 * Takes the root's lock (in the state database whose locks are `stateLocks`)
 * and the runroot's, or neither.
 * @param stateLocks the cross-process locks of `<root>/state.db`
 * @throws InstanceLockedError naming the other server's pid when a live one
 *   holds either; the SQLite error when the runroot's database cannot be opened.
 */
export function lockInstance(dirs: { root: string; runroot: string }, stateLocks: ProcessLocks): InstanceLock {
  if (!stateLocks.tryAcquire(LOCK_KEY)) throw new InstanceLockedError('root', dirs.root, stateLocks.holder(LOCK_KEY)?.pid ?? 0);
  let db: Database.Database | undefined;
  try {
    const file = runrootLockPath(dirs.runroot);
    ensurePrivateFile(file);
    db = new Database(file, { timeout: 30_000 });
    db.exec(LOCKS_TABLE_SQL);
    const runrootLocks = new ProcessLocks(db);
    if (!runrootLocks.tryAcquire(LOCK_KEY)) throw new InstanceLockedError('runroot', dirs.runroot, runrootLocks.holder(LOCK_KEY)?.pid ?? 0);
    const held = db;
    let released = false;
    return {
      release(): void {
        if (released) return;
        released = true;
        runrootLocks.release(LOCK_KEY);
        held.close();
        stateLocks.release(LOCK_KEY);
      },
    };
  } catch (err) {
    db?.close();
    stateLocks.release(LOCK_KEY);
    throw err;
  }
}
