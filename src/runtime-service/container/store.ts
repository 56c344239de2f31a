import * as fs from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { alreadyExists, internal, notFound } from '../../common/errors';
import { ensurePrivateDir } from '../../common/host/private-paths';
import { isProcessAlive } from '../../common/host/proc';
import type { Trash } from '../../common/trash';
import type { ImageUsers } from '../image-removal';
import type { RecordChange } from '../lifecycle-events';
import { isUniqueViolation, Owner, StateDb } from '../state-db';
import type { ContainerRecord } from './record';
import { containersReleasingImage } from './release-markers';
import { ContainerEvent, nextRecord } from './state';
import { RecordSnapshot } from '../record-snapshot';

/** The key that makes a container name unique: its pod, name and attempt. */
export function containerNameKey(sandboxId: string, name: string, attempt: number): string {
  return `${sandboxId}/${name}/${attempt}`;
}

/** The highest code unit: `prefix + PREFIX_END` bounds the IDs starting with `prefix`. */
const PREFIX_END = '\uffff';

/**
 * A record as stored, or undefined when its JSON cannot be read or lacks
 * what every record has (a damaged row; recovery repairs it, see recover.ts).
 */
export function parseContainerRecord(json: string): ContainerRecord | undefined {
  try {
    const r = JSON.parse(json) as Partial<ContainerRecord> | null;
    if (!r || typeof r.id !== 'string' || typeof r.state !== 'string' || typeof r.sandboxId !== 'string' || typeof r.metadata !== 'object' || r.metadata === null) return undefined;
    return r as ContainerRecord;
  } catch {
    return undefined;
  }
}

/** The columns of a row, readable even when its record is not. */
export interface ContainerRow {
  id: string;
  pod_id: string;
  name: string;
  attempt: number;
  state: string;
  owner: Owner;
  image_id: string;
  created_at: string;
}

/** The records of rows, those that cannot be read left out (recovery repairs them). */
function records(rows: { record: string }[]): ContainerRecord[] {
  const out: ContainerRecord[] = [];
  for (const r of rows) {
    const rec = parseContainerRecord(r.record);
    if (rec) out.push(rec);
  }
  return out;
}

/**
 * IDs of the containers of every owner, `creating` ones included, made from
 * image `imageId`, oldest first: one query, for the image-in-use rule (a
 * front end may ask without opening the container service).
 */
export function containersUsingImage(state: StateDb, imageId: string): string[] {
  return (state.db.prepare('SELECT id FROM containers WHERE image_id = ? ORDER BY created_at').all(imageId) as { id: string }[]).map((r) => r.id);
}

/**
 * The image-in-use rule's view of the state database (image-removal.ts):
 * who uses an image, and a way to remove one while no container can be
 * recorded (an IMMEDIATE transaction: a container's row is written in one
 * too, after a check that its image is still there, ContainerStore.insert).
 */
export function imageUsersOf(state: StateDb): ImageUsers {
  return {
    usingImage: (imageId) => containersUsingImage(state, imageId),
    releasing: (imageId) => containersReleasingImage(state, imageId),
    exclusive: <T>(fn: () => T): T => state.db.transaction(fn).immediate(),
  };
}

/**
 * The container records: rows of the `containers` table of the state
 * database (see state-db.ts), each holding the whole record as JSON beside
 * the columns queries need. After its insertion, a record changes only by
 * `transition` (see state.ts), one transaction each.
 *
 * Lookups and lists see this process's owner's records that are not
 * `creating`; `getAny`, `usingImage` and recovery see more, as documented.
 * Records returned are snapshots: read again after a change. `list()`'s
 * are shared, deep-frozen, and kept until the database changes (its change
 * stamp: a commit of any process, or a write of this one).
 */
export class ContainerStore {
  private readonly byId: Database.Statement<[string]>;
  private readonly ownById: Database.Statement<[string, string]>;
  private readonly ownByPrefix: Database.Statement<[string, string, string]>;
  private readonly ownList: Database.Statement<[string]>;
  private readonly update: Database.Statement<[string, string, string]>;
  /** `list()`'s records, read again when the change stamp moves. */
  private readonly snap = new RecordSnapshot<ContainerRecord>(
    () => this.state.changeStamp(),
    () => this.ownList.all(this.owner) as { record: string }[],
    parseContainerRecord,
  );
  /**
   * Told of every change this store writes, after it is written: a
   * transition (before, after) and a deletion (before, undefined). The
   * lifecycle events' source (lifecycle-events.ts); what it throws is not
   * the writer's concern and is swallowed.
   */
  observer: ((change: RecordChange<ContainerRecord>) => void) | undefined;

  /**
   * @param state the state database (its owner is this store's)
   * @param dir `<root>/containers`: a container's persistent directory goes with its record
   * @param trash where a deleted container's directory goes (renamed, then deleted in the
   *   background); without one it is deleted at once
   */
  constructor(
    private readonly state: StateDb,
    readonly dir: string,
    private readonly trash?: Trash,
  ) {
    ensurePrivateDir(dir);
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
   * container of this owner, in any pod (the CLI's rule, as Podman's).
   * Both checks run in one IMMEDIATE transaction, so two processes cannot
   * both take a name.
   * @param options.guard run first, inside the same transaction (e.g. a
   *   check that the container's image is still in the store): what it
   *   throws is thrown and nothing is written. An image removal runs its
   *   check of the image's users in such a transaction too
   *   (imageUsersOf), so the two never interleave, in any process.
   * @throws AlreadyExistsError when the pod (or, with `uniqueName`, the
   *   owner) has a container of that name and attempt, or the ID is taken;
   *   what `guard` throws.
   */
  insert(rec: ContainerRecord, options: { uniqueName?: boolean; guard?: () => void } = {}): void {
    const db = this.state.db;
    try {
      db.transaction(() => {
        options.guard?.();
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
    const changed = this.state.db
      .transaction((): { rec: ContainerRecord; next: ContainerRecord } => {
        const row = this.byId.get(id) as { record: string } | undefined;
        if (!row) throw notFound(`container "${id}" not found`);
        const rec = parseContainerRecord(row.record);
        if (!rec) throw internal(`the record of container ${id} cannot be read (the next start of peapod repairs it)`);
        const next = nextRecord(rec, event);
        this.update.run(next.state, JSON.stringify(next), id);
        return { rec, next };
      })
      .immediate();
    this.notify({ before: changed.rec, after: changed.next });
    return changed.next;
  }

  private notify(change: RecordChange<ContainerRecord>): void {
    try {
      this.observer?.(change);
    } catch {
      // An observer's failure must not fail the change it was told of.
    }
  }

  /**
   * Forgets a container: its persistent directory first (into the trash: one
   * rename, the tree deleted in the background), then its row.
   */
  delete(id: string): void {
    const dir = path.join(this.dir, id);
    if (this.trash) this.trash.discard(dir);
    else fs.rmSync(dir, { recursive: true, force: true });
    this.deleteRow(id);
  }

  /**
   * Forgets a container's row only, leaving its persistent directory: a
   * removal whose files are released in the background (release.ts), which
   * discards the directory last; recovery discards one left without a row.
   */
  deleteRow(id: string): void {
    const before = this.observer ? this.getAny(id) : undefined;
    this.state.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    if (before) this.notify({ before, after: undefined });
  }

  /** A container by full ID, of any owner and state (exit handling, rollback). */
  getAny(id: string): ContainerRecord | undefined {
    const row = this.byId.get(id) as { record: string } | undefined;
    return row ? parseContainerRecord(row.record) : undefined;
  }

  /** One of this owner's containers (not `creating`) by full ID or unique ID prefix. */
  find(idOrPrefix: string): ContainerRecord | undefined {
    if (!idOrPrefix) return undefined;
    const exact = this.ownById.get(idOrPrefix, this.owner) as { record: string } | undefined;
    if (exact) return parseContainerRecord(exact.record);
    const hits = this.ownByPrefix.all(idOrPrefix, idOrPrefix + PREFIX_END, this.owner) as { record: string }[];
    return hits.length === 1 ? parseContainerRecord(hits[0].record) : undefined;
  }

  /** This owner's containers (not `creating`) named `name`, in any pod, oldest first. Records that cannot be read are left out. */
  findByName(name: string): ContainerRecord[] {
    return records(this.state.db.prepare("SELECT record FROM containers WHERE owner = ? AND name = ? AND state != 'creating' ORDER BY created_at").all(this.owner, name) as { record: string }[]);
  }

  /** Another owner's containers that are not `creating`, oldest first (read-only views, e.g. the CLI's `ps --external`). Records that cannot be read are left out. */
  listOf(owner: Owner): ContainerRecord[] {
    return records(this.ownList.all(owner) as { record: string }[]);
  }

  /**
   * This owner's containers that are not `creating`, oldest first: one query
   * when the database changed since the last call, else the same (frozen)
   * records again. The array is the caller's. Records that cannot be read
   * are left out (recovery repairs them).
   */
  list(): ContainerRecord[] {
    return [...this.snap.records()];
  }

  /**
   * As `find`, but the record is `list()`'s: shared and deep-frozen, the very
   * same object while the database is unchanged (its change stamp), so a
   * caller may key what it derives from it (a status response, its
   * encoding) by the object. Full IDs are answered from the snapshot (no
   * query, no parse); a prefix is looked up as `find` does and answered
   * with the snapshot's object of that ID.
   */
  findShared(idOrPrefix: string): ContainerRecord | undefined {
    return this.snap.shared(idOrPrefix, (p) => this.find(p));
  }

  /** The containers of every owner, `creating` ones included, made from image `imageId`. */
  usingImage(imageId: string): string[] {
    return containersUsingImage(this.state, imageId);
  }

  /** Removed containers of image `imageId` whose rootfs a live process still releases (release-markers.ts). */
  releasingImage(imageId: string): string[] {
    return containersReleasingImage(this.state, imageId);
  }

  /** Runs `fn` in an IMMEDIATE transaction: no container is recorded meanwhile, by any process (imageUsersOf). */
  exclusive<T>(fn: () => T): T {
    return this.state.db.transaction(fn).immediate();
  }

  /** This owner's records still `creating` whose creator is dead: what recovery rolls back. */
  abandonedCreations(): ContainerRecord[] {
    const rows = this.state.db.prepare("SELECT record, creator_pid, creator_start FROM containers WHERE owner = ? AND state = 'creating'").all(this.owner) as {
      record: string;
      creator_pid: number;
      creator_start: string;
    }[];
    return records(rows.filter((r) => !isProcessAlive({ pid: r.creator_pid, startTime: r.creator_start })));
  }

  /** This owner's rows whose record cannot be read (parseContainerRecord), by their columns: what recovery repairs. */
  unreadable(): ContainerRow[] {
    const rows = this.state.db.prepare('SELECT id, pod_id, name, attempt, state, owner, image_id, created_at, record FROM containers WHERE owner = ?').all(this.owner) as (ContainerRow & { record: string })[];
    return rows.filter((r) => parseContainerRecord(r.record) === undefined).map(({ record: _record, ...row }) => row);
  }

  /** Writes a whole new record over a row whose record cannot be read (the repair of recovery); its state column follows the record. */
  replaceUnreadable(rec: ContainerRecord): void {
    this.state.db.prepare('UPDATE containers SET state = ?, record = ? WHERE id = ?').run(rec.state, JSON.stringify(rec), rec.id);
  }

  /** The IDs of every row, of every owner and state. */
  allIds(): Set<string> {
    return new Set((this.state.db.prepare('SELECT id FROM containers').all() as { id: string }[]).map((r) => r.id));
  }
}
