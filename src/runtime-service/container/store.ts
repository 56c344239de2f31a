import * as fs from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { alreadyExists, notFound } from '../../common/errors';
import { isProcessAlive } from '../../common/host/proc';
import { isUniqueViolation, Owner, StateDb } from '../state-db';
import type { ContainerRecord } from './record';
import { ContainerEvent, nextRecord } from './state';

/** The key that makes a container name unique: its pod, name and attempt. */
export function containerNameKey(sandboxId: string, name: string, attempt: number): string {
  return `${sandboxId}/${name}/${attempt}`;
}

/** The highest code unit: `prefix + PREFIX_END` bounds the IDs starting with `prefix`. */
const PREFIX_END = '\uffff';

/**
 * IDs of the containers of every owner, `creating` ones included, made from
 * image `imageId`, oldest first: one query, for the image-in-use rule (a
 * front end may ask without opening the container service).
 */
export function containersUsingImage(state: StateDb, imageId: string): string[] {
  return (state.db.prepare('SELECT id FROM containers WHERE image_id = ? ORDER BY created_at').all(imageId) as { id: string }[]).map((r) => r.id);
}

/**
 * The container records: rows of the `containers` table of the state
 * database (see state-db.ts), each holding the whole record as JSON beside
 * the columns queries need. After its insertion, a record changes only by
 * `transition` (see state.ts), one transaction each.
 *
 * Lookups and lists see this process's owner's records that are not
 * `creating`; `getAny`, `usingImage` and recovery see more, as documented.
 * Records returned are snapshots: read again after a change.
 */
export class ContainerStore {
  private readonly byId: Database.Statement<[string]>;
  private readonly ownById: Database.Statement<[string, string]>;
  private readonly ownByPrefix: Database.Statement<[string, string, string]>;
  private readonly ownList: Database.Statement<[string]>;
  private readonly update: Database.Statement<[string, string, string]>;

  /**
   * @param state the state database (its owner is this store's)
   * @param dir `<root>/containers`: a container's persistent directory goes with its record
   */
  constructor(
    private readonly state: StateDb,
    readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    const db = state.db;
    this.byId = db.prepare('SELECT record FROM containers WHERE id = ?');
    this.ownById = db.prepare("SELECT record FROM containers WHERE id = ? AND owner = ? AND state != 'creating'");
    this.ownByPrefix = db.prepare("SELECT record FROM containers WHERE id >= ? AND id < ? AND owner = ? AND state != 'creating' LIMIT 2");
    this.ownList = db.prepare("SELECT record FROM containers WHERE owner = ? AND state != 'creating' ORDER BY created_at, id");
    this.update = db.prepare('UPDATE containers SET state = ?, record = ? WHERE id = ?');
  }

  /** The front end whose records this store lists. */
  get owner(): Owner {
    return this.state.owner;
  }

  /**
   * Writes the first record of a container being created (state `creating`),
   * with this process as its creator; the row takes the container's name in
   * its pod. With `uniqueName` the name must also be free among every
   * container of this owner, in any pod (the CLI's rule, as Podman's):
   * checked in the same IMMEDIATE transaction, so two processes cannot both
   * take it.
   * @throws AlreadyExistsError when the pod (or, with `uniqueName`, the
   *   owner) has a container of that name and attempt, or the ID is taken.
   */
  insert(rec: ContainerRecord, options: { uniqueName?: boolean } = {}): void {
    const db = this.state.db;
    try {
      db.transaction(() => {
        if (options.uniqueName) {
          const taken = db.prepare('SELECT id FROM containers WHERE owner = ? AND name = ?').get(rec.owner, rec.metadata.name) as { id: string } | undefined;
          if (taken) throw alreadyExists(`the container name "${rec.metadata.name}" is already in use by ${taken.id}`);
        }
        db.prepare(
          'INSERT INTO containers (id, pod_id, name, attempt, state, owner, creator_pid, creator_start, image_id, created_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(rec.id, rec.sandboxId, rec.metadata.name, rec.metadata.attempt, rec.state, rec.owner, this.state.self.pid, this.state.self.startTime, rec.imageId, rec.createdAt, JSON.stringify(rec));
      }).immediate();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw alreadyExists(`a container with ID ${rec.id} already exists`);
      const taken = db.prepare('SELECT id FROM containers WHERE pod_id = ? AND name = ? AND attempt = ?').get(rec.sandboxId, rec.metadata.name, rec.metadata.attempt) as { id: string } | undefined;
      throw alreadyExists(`container name "${rec.metadata.name}" (attempt ${rec.metadata.attempt}) is already used in pod sandbox ${rec.sandboxId} by container ${taken?.id ?? 'being created'}`);
    }
  }

  /**
   * Applies `event` to the record (see state.ts) and writes the result, in
   * one IMMEDIATE transaction.
   * @returns the new record.
   * @throws NotFoundError for an unknown ID; WrongStateError when the state refuses the event.
   */
  transition(id: string, event: ContainerEvent): ContainerRecord {
    return this.state.db
      .transaction((): ContainerRecord => {
        const row = this.byId.get(id) as { record: string } | undefined;
        if (!row) throw notFound(`container "${id}" not found`);
        const next = nextRecord(JSON.parse(row.record) as ContainerRecord, event);
        this.update.run(next.state, JSON.stringify(next), id);
        return next;
      })
      .immediate();
  }

  /** Forgets a container: its persistent directory first, then its row. */
  delete(id: string): void {
    fs.rmSync(path.join(this.dir, id), { recursive: true, force: true });
    this.state.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  /** A container by full ID, of any owner and state (exit handling, rollback). */
  getAny(id: string): ContainerRecord | undefined {
    const row = this.byId.get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as ContainerRecord) : undefined;
  }

  /** One of this owner's containers (not `creating`) by full ID or unique ID prefix. */
  find(idOrPrefix: string): ContainerRecord | undefined {
    if (!idOrPrefix) return undefined;
    const exact = this.ownById.get(idOrPrefix, this.owner) as { record: string } | undefined;
    if (exact) return JSON.parse(exact.record) as ContainerRecord;
    const hits = this.ownByPrefix.all(idOrPrefix, idOrPrefix + PREFIX_END, this.owner) as { record: string }[];
    return hits.length === 1 ? (JSON.parse(hits[0].record) as ContainerRecord) : undefined;
  }

  /** This owner's containers (not `creating`) named `name`, in any pod, oldest first. */
  findByName(name: string): ContainerRecord[] {
    const rows = this.state.db.prepare("SELECT record FROM containers WHERE owner = ? AND name = ? AND state != 'creating' ORDER BY created_at").all(this.owner, name) as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as ContainerRecord);
  }

  /** Another owner's containers that are not `creating`, oldest first (read-only views, e.g. the CLI's `ps --external`). */
  listOf(owner: Owner): ContainerRecord[] {
    return (this.ownList.all(owner) as { record: string }[]).map((r) => JSON.parse(r.record) as ContainerRecord);
  }

  /** This owner's containers that are not `creating`, oldest first: one query. */
  list(): ContainerRecord[] {
    return (this.ownList.all(this.owner) as { record: string }[]).map((r) => JSON.parse(r.record) as ContainerRecord);
  }

  /** The containers of every owner, `creating` ones included, made from image `imageId`. */
  usingImage(imageId: string): string[] {
    return containersUsingImage(this.state, imageId);
  }

  /** This owner's records still `creating` whose creator is dead: what recovery rolls back. */
  abandonedCreations(): ContainerRecord[] {
    const rows = this.state.db.prepare("SELECT record, creator_pid, creator_start FROM containers WHERE owner = ? AND state = 'creating'").all(this.owner) as {
      record: string;
      creator_pid: number;
      creator_start: string;
    }[];
    return rows.filter((r) => !isProcessAlive({ pid: r.creator_pid, startTime: r.creator_start })).map((r) => JSON.parse(r.record) as ContainerRecord);
  }

  /** The IDs of every row, of every owner and state. */
  allIds(): Set<string> {
    return new Set((this.state.db.prepare('SELECT id FROM containers').all() as { id: string }[]).map((r) => r.id));
  }
}
