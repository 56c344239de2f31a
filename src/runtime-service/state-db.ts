/**
 * The state database of pods and containers: `<root>/state.db`, SQLite in
 * WAL mode, shared by every peapod process on the root (peapod-cri and the
 * CLI). It sits beside the image store's `<root>/storage/images.db` rather
 * than inside it: the image store is its own module with its own schema and
 * writers, a pull's transactions then never wait on a container's, and each
 * database evolves on its own.
 *
 *   pods        (id, name, namespace, uid, attempt, state, owner,
 *                creator_pid, creator_start, created_at, record JSON)
 *               UNIQUE (name, namespace, uid, attempt): one pod per name
 *   containers  (id, pod_id, name, attempt, state, owner, creator_pid,
 *                creator_start, image_id, created_at, record JSON)
 *               UNIQUE (pod_id, name, attempt): one container per name in a pod
 *   locks       cross-process locks by pid and start time (common/process-lock.ts)
 *
 * Every record has an owner, the front end that made it (`cri` or `cli`):
 * each front end lists and recovers its own records only. The creator's
 * pid and start time tell recovery whether a record still `creating` is
 * being built by a live process (left alone) or was left by a dead one
 * (rolled back). Each record is written whole, in one transaction, by its
 * store's single update path (transition).
 *
 * Durability: `synchronous = NORMAL` in WAL mode, as the image store: a
 * committed transaction survives any crash of a process (SIGKILL included);
 * an OS crash may lose the last ones, never the database's consistency, and
 * a reboot ends every container anyway.
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile } from '../common/host/private-paths';
import { ProcessIdentity, selfIdentity } from '../common/host/proc';
import { LOCKS_TABLE_SQL, ProcessLocks } from '../common/process-lock';

/** The front end a record belongs to. */
export type Owner = 'cri' | 'cli';

/** The schema version this code writes (PRAGMA user_version). */
export const STATE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pods (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, namespace TEXT NOT NULL, uid TEXT NOT NULL, attempt INTEGER NOT NULL,
  state TEXT NOT NULL, owner TEXT NOT NULL, creator_pid INTEGER NOT NULL, creator_start TEXT NOT NULL,
  created_at TEXT NOT NULL, record TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS pods_name ON pods(name, namespace, uid, attempt);
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY, pod_id TEXT NOT NULL, name TEXT NOT NULL, attempt INTEGER NOT NULL,
  state TEXT NOT NULL, owner TEXT NOT NULL, creator_pid INTEGER NOT NULL, creator_start TEXT NOT NULL,
  image_id TEXT NOT NULL, created_at TEXT NOT NULL, record TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS containers_name ON containers(pod_id, name, attempt);
CREATE INDEX IF NOT EXISTS containers_pod ON containers(pod_id);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
${LOCKS_TABLE_SQL};
`;

/** One process's connection to the state database, with who it is. */
export interface StateDb {
  db: Database.Database;
  /** The front end this process is; its records carry it. */
  owner: Owner;
  /** This process, written as the creator of what it creates and as holder of its locks. */
  self: ProcessIdentity;
  /** Cross-process locks (`pod:<id>`, `container:<id>`). */
  locks: ProcessLocks;
  /**
   * A value that differs whenever the database may have changed since it was
   * last taken: another connection (of any process) committed (SQLite's
   * `PRAGMA data_version`) or this one wrote a row (`total_changes()`). What
   * was read under an unchanged stamp is still what the database holds, so
   * it keys caches of query results (the lists). Two cheap queries, no I/O.
   */
  changeStamp(): string;
  close(): void;
}

/** The file of the state database under peapod's root. */
export function stateDbPath(root: string): string {
  return path.join(root, 'state.db');
}

/**
 * Opens (creating when absent) `<root>/state.db` for `owner`. The root is
 * made 0700 and the database and its -wal and -shm files 0600, also when
 * they existed with other modes (common/host/private-paths.ts).
 * @throws Error when the database was written by a newer peapod (a schema
 *   version this code does not know), or cannot be opened; when the root is
 *   owned by another user.
 */
export function openStateDb(root: string, owner: Owner): StateDb {
  ensurePrivateDir(root);
  const file = stateDbPath(root);
  ensurePrivateFile(file, [`${file}-wal`, `${file}-shm`]);
  const db = new Database(file, { timeout: 30_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 30000');
  db.pragma('synchronous = NORMAL');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > STATE_SCHEMA_VERSION) {
    db.close();
    throw new Error(`${stateDbPath(root)} has schema version ${version}, newer than this peapod's ${STATE_SCHEMA_VERSION}`);
  }
  db.exec(SCHEMA);
  if (version < STATE_SCHEMA_VERSION) db.pragma(`user_version = ${STATE_SCHEMA_VERSION}`);
  const self = selfIdentity();
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  const ownChanges = db.prepare('SELECT total_changes()').pluck();
  const changeStamp = (): string => `${dataVersion.get() as number}:${ownChanges.get() as number}`;
  return { db, owner, self, locks: new ProcessLocks(db, self), changeStamp, close: () => db.close() };
}

/** Whether an error is SQLite's refusal of a duplicate key (a UNIQUE or PRIMARY KEY constraint). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
