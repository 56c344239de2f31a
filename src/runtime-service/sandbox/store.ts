import * as fs from 'node:fs';
import type Database from 'better-sqlite3';
import { alreadyExists, internal, notFound } from '../../common/errors';
import { ensurePrivateDir } from '../../common/host/private-paths';
import { isProcessAlive, ProcessIdentity } from '../../common/host/proc';
import { SharedKeyedLock } from '../../common/process-lock';
import type { RecordChange } from '../lifecycle-events';
import { isUniqueViolation, Owner, StateDb } from '../state-db';
import { metadataKey, SandboxRecord } from './record';
import { sandboxesStateDir, sandboxPaths } from './paths';
import { nextSandbox, SandboxEvent } from './state';
import { RecordSnapshot } from '../record-snapshot';

/** The highest code unit: `prefix + PREFIX_END` bounds the IDs starting with `prefix`. */
const PREFIX_END = '\uffff';

/**
 * A record as stored, or undefined when its JSON cannot be read or lacks
 * what every record has (a damaged row; recovery repairs it, see
 * sandbox/recover.ts).
 */
export function parseSandboxRecord(json: string): SandboxRecord | undefined {
  try {
    const r = JSON.parse(json) as Partial<SandboxRecord> | null;
    if (!r || typeof r.id !== 'string' || typeof r.state !== 'string' || typeof r.metadata !== 'object' || r.metadata === null || typeof r.namespaces !== 'object' || r.namespaces === null) return undefined;
    return r as SandboxRecord;
  } catch {
    return undefined;
  }
}

/** The columns of a row, readable even when its record is not. */
export interface SandboxRow {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: string;
  owner: Owner;
  created_at: string;
}

/** The records of rows, those that cannot be read left out (recovery repairs them). */
function records(rows: { record: string }[]): SandboxRecord[] {
  const out: SandboxRecord[] = [];
  for (const r of rows) {
    const rec = parseSandboxRecord(r.record);
    if (rec) out.push(rec);
  }
  return out;
}

/**
 * The pod sandboxes: rows of the `pods` table of the state database (see
 * state-db.ts), each holding the whole record as JSON beside the columns
 * queries need. After its insertion, a record changes only by `transition`
 * (see state.ts), one transaction each. The files of a sandbox (hosts,
 * resolv.conf, CNI cache) stay in `<root>/sandboxes/<id>/`.
 *
 * Lookups and lists see this process's owner's sandboxes that are not
 * `creating`. Records returned are snapshots: read again after a change.
 */
export class SandboxStore {
  private readonly locks: SharedKeyedLock;
  private readonly byId: Database.Statement<[string]>;
  private readonly ownById: Database.Statement<[string, string]>;
  private readonly ownByPrefix: Database.Statement<[string, string, string]>;
  private readonly ownList: Database.Statement<[string]>;
  /** `list()`'s records, read again when the change stamp moves. */
  private readonly snap = new RecordSnapshot<SandboxRecord>(
    () => this.state.changeStamp(),
    () => this.ownList.all(this.owner) as { record: string }[],
    parseSandboxRecord,
  );
  /**
   * Told of every change this store writes, after it is written: a
   * transition (before, after) and a deletion (before, undefined). The
   * lifecycle events' source (lifecycle-events.ts); what it throws is
   * swallowed.
   */
  observer: ((change: RecordChange<SandboxRecord>) => void) | undefined;

  /**
   * @param state the state database (its owner is this store's)
   * @param dirs the configured root and runroot
   */
  constructor(
    private readonly state: StateDb,
    private readonly dirs: { root: string; runroot: string },
  ) {
    ensurePrivateDir(sandboxesStateDir(dirs.root));
    this.locks = new SharedKeyedLock(state.locks, 'pod:');
    const db = state.db;
    this.byId = db.prepare('SELECT record FROM pods WHERE id = ?');
    this.ownById = db.prepare("SELECT record FROM pods WHERE id = ? AND owner = ? AND state != 'creating'");
    this.ownByPrefix = db.prepare("SELECT record FROM pods WHERE id >= ? AND id < ? AND owner = ? AND state != 'creating' LIMIT 2");
    this.ownList = db.prepare("SELECT record FROM pods WHERE owner = ? AND state != 'creating' ORDER BY created_at, id");
  }

  /** The front end whose records this store lists. */
  get owner(): Owner {
    return this.state.owner;
  }

  /**
   * Writes the first record of a sandbox being built (state `creating`), with
   * this process as its creator, taking its pod name: one name, namespace,
   * uid and attempt names one pod.
   * @throws AlreadyExistsError naming the sandbox that has the name.
   */
  insert(rec: SandboxRecord): void {
    const m = rec.metadata;
    try {
      this.state.db
        .prepare('INSERT INTO pods (id, name, namespace, uid, attempt, state, owner, creator_pid, creator_start, created_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.id, m.name, m.namespace, m.uid, m.attempt, rec.state, rec.owner, this.state.self.pid, this.state.self.startTime, rec.createdAt, JSON.stringify(rec));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw alreadyExists(`pod sandbox ${metadataKey(m)} already exists with ID ${this.idOfName(m) ?? 'being created'}`);
    }
  }

  /**
   * Applies `event` to the record (see state.ts) and writes the result, in
   * one IMMEDIATE transaction.
   * @returns the new record.
   * @throws NotFoundError for an unknown ID; WrongStateError when the state refuses the event.
   */
  transition(id: string, event: SandboxEvent): SandboxRecord {
    const changed = this.state.db
      .transaction((): { rec: SandboxRecord; next: SandboxRecord } => {
        const row = this.byId.get(id) as { record: string } | undefined;
        if (!row) throw notFound(`pod sandbox ${id} not found`);
        const rec = parseSandboxRecord(row.record);
        if (!rec) throw internal(`the record of pod sandbox ${id} cannot be read (the next start of peapod repairs it)`);
        const next = nextSandbox(rec, event);
        this.state.db.prepare('UPDATE pods SET state = ?, record = ? WHERE id = ?').run(next.state, JSON.stringify(next), id);
        return { rec, next };
      })
      .immediate();
    this.notify({ before: changed.rec, after: changed.next });
    return changed.next;
  }

  private notify(change: RecordChange<SandboxRecord>): void {
    try {
      this.observer?.(change);
    } catch {
      // An observer's failure must not fail the change it was told of.
    }
  }

  /**
   * One of this owner's finished sandboxes by full ID or by a prefix matching exactly one.
   * @returns undefined when none or several match.
   */
  get(idOrUniquePrefix: string): SandboxRecord | undefined {
    if (idOrUniquePrefix === '') return undefined;
    const exact = this.ownById.get(idOrUniquePrefix, this.owner) as { record: string } | undefined;
    if (exact) return parseSandboxRecord(exact.record);
    const hits = this.ownByPrefix.all(idOrUniquePrefix, idOrUniquePrefix + PREFIX_END, this.owner) as { record: string }[];
    return hits.length === 1 ? parseSandboxRecord(hits[0].record) : undefined;
  }

  /** A sandbox by full ID, of any owner and state. */
  getAny(id: string): SandboxRecord | undefined {
    const row = this.byId.get(id) as { record: string } | undefined;
    return row ? parseSandboxRecord(row.record) : undefined;
  }

  /**
   * This owner's finished sandboxes, oldest first: one query when the
   * database changed since the last call (its change stamp: a commit of any
   * process, or a write of this one), else the same records again, shared
   * and deep-frozen. The array is the caller's. Records that cannot be read
   * are left out (recovery repairs them).
   */
  list(): SandboxRecord[] {
    return [...this.snap.records()];
  }

  /**
   * As `get`, but the record is `list()`'s: shared and deep-frozen, the very
   * same object while the database is unchanged (its change stamp), so a
   * caller may key what it derives from it (a status response) by the
   * object. Full IDs are answered from the snapshot (no query, no parse); a
   * prefix is looked up as `get` does and answered with the snapshot's
   * object of that ID.
   */
  getShared(idOrUniquePrefix: string): SandboxRecord | undefined {
    return this.snap.shared(idOrUniquePrefix, (p) => this.get(p));
  }

  /** The ID of the sandbox, finished or being built, of any owner, with this name, namespace, uid and attempt: a pod name in use. */
  idOfName(m: SandboxRecord['metadata']): string | undefined {
    const row = this.state.db.prepare('SELECT id FROM pods WHERE name = ? AND namespace = ? AND uid = ? AND attempt = ?').get(m.name, m.namespace, m.uid, m.attempt) as { id: string } | undefined;
    return row?.id;
  }

  /** This owner's records still `creating` whose creator is dead: what recovery rolls back. */
  abandonedCreations(): SandboxRecord[] {
    const rows = this.state.db.prepare("SELECT record, creator_pid, creator_start FROM pods WHERE owner = ? AND state = 'creating'").all(this.owner) as {
      record: string;
      creator_pid: number;
      creator_start: string;
    }[];
    return records(rows.filter((r) => !isProcessAlive({ pid: r.creator_pid, startTime: r.creator_start })));
  }

  /** This owner's rows whose record cannot be read (parseSandboxRecord), by their columns: what recovery repairs. */
  unreadable(): SandboxRow[] {
    const rows = this.state.db.prepare('SELECT id, name, namespace, uid, attempt, state, owner, created_at, record FROM pods WHERE owner = ?').all(this.owner) as (SandboxRow & { record: string })[];
    return rows.filter((r) => parseSandboxRecord(r.record) === undefined).map(({ record: _record, ...row }) => row);
  }

  /**
   * Writes a whole new record over a row whose record cannot be read (the
   * repair of recovery); its state column follows the record.
   */
  replaceUnreadable(rec: SandboxRecord): void {
    this.state.db.prepare('UPDATE pods SET state = ?, record = ? WHERE id = ?').run(rec.state, JSON.stringify(rec), rec.id);
  }

  /** The IDs of every row, of every owner and state: what has a record. */
  allIds(): Set<string> {
    return new Set((this.state.db.prepare('SELECT id FROM pods').all() as { id: string }[]).map((r) => r.id));
  }

  /** The process that created sandbox `id` (any owner), as its row records it; undefined for an unknown ID. */
  creator(id: string): ProcessIdentity | undefined {
    const r = this.state.db.prepare('SELECT creator_pid, creator_start FROM pods WHERE id = ?').get(id) as { creator_pid: number; creator_start: string } | undefined;
    return r ? { pid: r.creator_pid, startTime: r.creator_start } : undefined;
  }

  /** Forgets a sandbox: its state directory first (deleted off the event loop), then its row. */
  async delete(id: string): Promise<void> {
    await fs.promises.rm(sandboxPaths(this.dirs, id).stateDir, { recursive: true, force: true });
    const before = this.observer ? this.getAny(id) : undefined;
    this.state.db.prepare('DELETE FROM pods WHERE id = ?').run(id);
    if (before) this.notify({ before, after: undefined });
  }

  /**
   * Runs `fn` while holding sandbox `id`'s lock, in this process and across
   * processes, so Stop, Remove and the creation of its containers never
   * interleave.
   */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }
}
