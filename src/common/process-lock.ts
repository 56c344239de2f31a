/**
 * Locks that hold across processes (peapod-cri and any number of CLI
 * processes on one store), kept as rows of a SQLite table:
 *
 *   locks (key TEXT PRIMARY KEY, pid INTEGER, start_time TEXT, acquired INTEGER)
 *
 * A row names its holder by pid and kernel start time, so a holder that died
 * (even killed with SIGKILL, which runs no cleanup) is recognised as dead —
 * also when its pid has been reused by another process since — and its lock
 * is taken over by the next process that wants it. Inside one process, keep
 * work on one key in order with a KeyedLock first: a key this process holds
 * is waited for like any other.
 */
import type Database from 'better-sqlite3';
import { isProcessAlive, ProcessIdentity, selfIdentity } from './host/proc';
import { KeyedLock } from './keyed-lock';
import { sleep } from './time';

/** The table, as its users create it. */
export const LOCKS_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, pid INTEGER NOT NULL, acquired INTEGER NOT NULL, start_time TEXT)';

/** Adds `start_time` to a locks table made before it existed (its rows then read as pid-only). */
export function upgradeLocksTable(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(locks)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'start_time')) db.exec('ALTER TABLE locks ADD COLUMN start_time TEXT');
}

/** A row of the table. */
interface LockRow {
  pid: number;
  start_time: string | null;
}

/** Whether a pid names a live process (EPERM: alive, not ours). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the holder of a lock row is alive: pid and start time when the row has one, else the pid alone. */
export function lockHolderAlive(row: LockRow): boolean {
  return row.start_time ? isProcessAlive({ pid: row.pid, startTime: row.start_time }) : pidAlive(row.pid);
}

/** The cross-process locks of one database. */
export class ProcessLocks {
  private readonly self: ProcessIdentity;

  /**
   * @param db a database with the locks table (LOCKS_TABLE_SQL)
   * @param self the identity written as holder (this process by default)
   */
  constructor(
    private readonly db: Database.Database,
    self?: ProcessIdentity,
  ) {
    this.self = self ?? selfIdentity();
  }

  /**
   * The statements of acquire and release, prepared once on first use (the
   * table exists by then): a lifecycle call takes and releases a lock, and
   * preparing them, with the transaction's BEGIN/COMMIT, on every call cost
   * more than running them (a --cpu-prof under 20 concurrent ExecSync).
   */
  private statements?: {
    select: Database.Statement;
    insert: Database.Statement;
    release: Database.Statement;
    take: Database.Transaction<(key: string) => boolean>;
  };

  private prepared(): NonNullable<ProcessLocks['statements']> {
    if (this.statements) return this.statements;
    const select = this.db.prepare('SELECT pid, start_time FROM locks WHERE key = ?');
    const insert = this.db.prepare('INSERT OR REPLACE INTO locks (key, pid, acquired, start_time) VALUES (?, ?, ?, ?)');
    const release = this.db.prepare('DELETE FROM locks WHERE key = ? AND pid = ? AND start_time = ?');
    const take = this.db.transaction((key: string): boolean => {
      const row = select.get(key) as LockRow | undefined;
      if (row && lockHolderAlive(row)) return false;
      insert.run(key, this.self.pid, Date.now(), this.self.startTime);
      return true;
    });
    this.statements = { select, insert, release, take };
    return this.statements;
  }

  /** Takes `key` when it is free or its holder is dead; one IMMEDIATE transaction. @returns whether it is now held. */
  tryAcquire(key: string): boolean {
    return this.prepared().take.immediate(key);
  }

  /**
   * Takes `key`, waiting (polling every `pollMs`) while a live process holds it.
   * @returns a function that releases it.
   */
  async acquire(key: string, pollMs = 50): Promise<() => void> {
    while (!this.tryAcquire(key)) await sleep(pollMs);
    return () => this.release(key);
  }

  /** The live process holding `key`, if any (a dead holder's row counts as free). */
  holder(key: string): ProcessIdentity | undefined {
    const row = this.prepared().select.get(key) as LockRow | undefined;
    return row && lockHolderAlive(row) ? { pid: row.pid, startTime: row.start_time ?? '' } : undefined;
  }

  /** Releases `key` if this process holds it. */
  release(key: string): void {
    this.prepared().release.run(key, this.self.pid, this.self.startTime);
  }

  /**
   * Deletes the rows of dead holders.
   * @returns the number of live holders left.
   */
  removeDead(): number {
    const rows = this.db.prepare('SELECT key, pid, start_time FROM locks').all() as (LockRow & { key: string })[];
    let live = 0;
    for (const r of rows) {
      if (lockHolderAlive(r)) live++;
      else this.db.prepare('DELETE FROM locks WHERE key = ? AND pid = ?').run(r.key, r.pid);
    }
    return live;
  }
}

/**
 * A lock per key that holds both inside this process (work on a key runs in
 * call order) and across processes (a row of the locks table while the work
 * runs). A process killed while holding one leaves a row that the next
 * taker recognises as dead and replaces.
 */
export class SharedKeyedLock {
  private readonly local = new KeyedLock();

  /**
   * @param shared the cross-process locks of the database
   * @param prefix put before each key in the table (e.g. `container:`)
   */
  constructor(
    private readonly shared: ProcessLocks,
    private readonly prefix: string,
  ) {}

  /** Runs `fn` while holding `key` here and in the table. @returns what `fn` returns or throws. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const release = await this.shared.acquire(this.prefix + key);
      try {
        return await fn();
      } finally {
        release();
      }
    });
  }
}
