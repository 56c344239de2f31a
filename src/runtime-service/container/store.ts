import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../../common/atomic-file';
import { alreadyExists, notFound } from '../../common/errors';
import type { ContainerRecord } from './record';
import { ContainerEvent, nextRecord } from './state';

/** The key that makes a container name unique: its pod, name and attempt. */
export function containerNameKey(sandboxId: string, name: string, attempt: number): string {
  return `${sandboxId}/${name}/${attempt}`;
}

/**
 * The container records: `<dir>/<id>/record.json`, written with
 * writeFileAtomic so that a SIGKILL leaves either the old or the new record,
 * and held in memory. The one way a record changes after its creation is
 * `transition` (see state.ts).
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  /** containerNameKey → ID, creating records included: the names in use. */
  private readonly names = new Map<string, string>();

  /** @param dir directory holding one subdirectory per container */
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /**
   * Reads every record from disk (call once, before use).
   * @returns the records, `creating` ones included, and the IDs of directories without a readable record.
   */
  load(): { records: ContainerRecord[]; orphans: string[] } {
    const records: ContainerRecord[] = [];
    const orphans: string[] = [];
    for (const id of fs.readdirSync(this.dir)) {
      const d = path.join(this.dir, id);
      removeAtomicLeftovers(d);
      try {
        const rec = JSON.parse(fs.readFileSync(path.join(d, 'record.json'), 'utf8')) as ContainerRecord;
        if (rec.version === 1 && rec.id === id) records.push(rec);
        else orphans.push(id);
      } catch {
        orphans.push(id);
      }
    }
    for (const rec of records) this.remember(rec);
    return { records, orphans };
  }

  private remember(rec: ContainerRecord): void {
    this.byId.set(rec.id, rec);
    this.names.set(containerNameKey(rec.sandboxId, rec.metadata.name, rec.metadata.attempt), rec.id);
  }

  private write(rec: ContainerRecord): void {
    fs.mkdirSync(path.join(this.dir, rec.id), { recursive: true });
    writeFileAtomic(path.join(this.dir, rec.id, 'record.json'), JSON.stringify(rec, null, 1));
  }

  /**
   * Writes the first record of a container being created (state `creating`),
   * taking its name in the pod.
   * @throws AlreadyExistsError when the pod has a container of that name and attempt.
   */
  insert(rec: ContainerRecord): void {
    const key = containerNameKey(rec.sandboxId, rec.metadata.name, rec.metadata.attempt);
    const taken = this.names.get(key);
    if (taken) throw alreadyExists(`container name "${rec.metadata.name}" (attempt ${rec.metadata.attempt}) is already used in pod sandbox ${rec.sandboxId} by container ${taken}`);
    this.write(rec);
    this.remember(rec);
  }

  /**
   * Applies `event` to the record (see state.ts) and writes the result.
   * @returns the new record.
   * @throws NotFoundError for an unknown ID; WrongStateError when the state refuses the event.
   */
  transition(id: string, event: ContainerEvent): ContainerRecord {
    const rec = this.byId.get(id);
    if (!rec) throw notFound(`container "${id}" not found`);
    const next = nextRecord(rec, event);
    this.write(next);
    this.byId.set(id, next);
    return next;
  }

  /** Forgets a container: its record and its persistent directory. */
  delete(id: string): void {
    const rec = this.byId.get(id);
    fs.rmSync(path.join(this.dir, id), { recursive: true, force: true });
    this.byId.delete(id);
    if (rec) this.names.delete(containerNameKey(rec.sandboxId, rec.metadata.name, rec.metadata.attempt));
  }

  /** A container by full ID, `creating` ones included. */
  getAny(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  /** A container (not `creating`) by full ID or unique ID prefix. */
  find(idOrPrefix: string): ContainerRecord | undefined {
    if (!idOrPrefix) return undefined;
    const exact = this.byId.get(idOrPrefix);
    if (exact) return exact.state === 'creating' ? undefined : exact;
    const hits = this.list().filter((r) => r.id.startsWith(idOrPrefix));
    return hits.length === 1 ? hits[0] : undefined;
  }

  /** Every container that is not `creating`. Records are snapshots: change them through `transition`. */
  list(): ContainerRecord[] {
    return [...this.byId.values()].filter((r) => r.state !== 'creating');
  }
}
