import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../../common/atomic-file';
import { alreadyExists, notFound } from '../../common/errors';
import { KeyedLock } from '../../common/keyed-lock';
import { metadataKey, SANDBOX_ID_PATTERN, SandboxRecord } from './record';
import { sandboxesStateDir, sandboxPaths } from './paths';
import { nextSandbox, SandboxEvent } from './state';

/** The record format before version 2: a phase beside the record, CRI state names. */
interface LegacyStoredSandbox {
  version: 1;
  phase: 'creating' | 'created';
  record: Omit<SandboxRecord, 'version' | 'state' | 'infraStartTime'> & { state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY' };
  infraStartTime?: string;
}

/** Reads a record file of either format. */
function parseRecord(text: string): SandboxRecord {
  const j = JSON.parse(text) as SandboxRecord | LegacyStoredSandbox;
  if (j.version === 2) return j;
  if (j.version === 1) {
    const state = j.phase === 'creating' ? 'creating' : j.record.state === 'SANDBOX_READY' ? 'ready' : 'notready';
    return { ...j.record, version: 2, state, ...(j.infraStartTime !== undefined ? { infraStartTime: j.infraStartTime } : {}) };
  }
  throw new Error(`unknown record version ${String((j as { version?: unknown }).version)}`);
}

/**
 * The sandboxes peapod knows, in memory and on disk (one JSON file per
 * sandbox at `<root>/sandboxes/<id>/sandbox.json`, written atomically on
 * every change). After its insertion, a record changes only by `transition`
 * (see state.ts).
 *
 * Only finished sandboxes are visible through `get`/`list`; one being built
 * is on disk as `creating` but not listed.
 */
export class SandboxStore {
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly locks = new KeyedLock();
  /** Metadata key → sandbox ID, for every record on disk (creating or not): the pod names in use. */
  private readonly names = new Map<string, string>();

  /** @param dirs the configured root and runroot */
  constructor(private readonly dirs: { root: string; runroot: string }) {}

  /**
   * Reads every record from disk into memory.
   * @returns the records still `creating` (to be torn down by the caller)
   *   and the finished ones; unreadable files are reported in `broken`.
   */
  load(): { creating: SandboxRecord[]; created: SandboxRecord[]; broken: string[] } {
    const dir = sandboxesStateDir(this.dirs.root);
    const out = { creating: [] as SandboxRecord[], created: [] as SandboxRecord[], broken: [] as string[] };
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return out;
    }
    for (const id of names) {
      if (!SANDBOX_ID_PATTERN.test(id)) continue;
      const file = sandboxPaths(this.dirs, id).recordFile;
      removeAtomicLeftovers(path.dirname(file));
      let rec: SandboxRecord;
      try {
        rec = parseRecord(fs.readFileSync(file, 'utf8'));
      } catch {
        out.broken.push(file);
        continue;
      }
      this.remember(rec);
      (rec.state === 'creating' ? out.creating : out.created).push(rec);
    }
    return out;
  }

  private remember(rec: SandboxRecord): void {
    this.sandboxes.set(rec.id, rec);
    this.names.set(metadataKey(rec.metadata), rec.id);
  }

  private write(rec: SandboxRecord): void {
    const p = sandboxPaths(this.dirs, rec.id);
    fs.mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(p.recordFile, JSON.stringify(rec));
  }

  /**
   * Writes the first record of a sandbox being built (state `creating`),
   * taking its pod name: one name, namespace, uid and attempt names one pod.
   * @throws AlreadyExistsError naming the sandbox that has the name.
   */
  insert(rec: SandboxRecord): void {
    const key = metadataKey(rec.metadata);
    const taken = this.names.get(key);
    if (taken) throw alreadyExists(`pod sandbox ${key} already exists with ID ${taken}`);
    this.write(rec);
    this.remember(rec);
  }

  /**
   * Applies `event` to the record (see state.ts) and writes the result.
   * @returns the new record.
   * @throws NotFoundError for an unknown ID; WrongStateError when the state refuses the event.
   */
  transition(id: string, event: SandboxEvent): SandboxRecord {
    const rec = this.sandboxes.get(id);
    if (!rec) throw notFound(`pod sandbox ${id} not found`);
    const next = nextSandbox(rec, event);
    this.write(next);
    this.sandboxes.set(id, next);
    return next;
  }

  /**
   * A finished sandbox by full ID or by a prefix matching exactly one.
   * @returns undefined when none or several match.
   */
  get(idOrUniquePrefix: string): SandboxRecord | undefined {
    if (idOrUniquePrefix === '') return undefined;
    const exact = this.sandboxes.get(idOrUniquePrefix);
    if (exact) return exact.state === 'creating' ? undefined : exact;
    let found: SandboxRecord | undefined;
    for (const rec of this.list()) {
      if (!rec.id.startsWith(idOrUniquePrefix)) continue;
      if (found) return undefined;
      found = rec;
    }
    return found;
  }

  /** A sandbox by full ID, `creating` ones included. */
  getAny(id: string): SandboxRecord | undefined {
    return this.sandboxes.get(id);
  }

  /** All finished sandboxes, oldest first. Records are snapshots: change them through `transition`. */
  list(): SandboxRecord[] {
    return [...this.sandboxes.values()].filter((r) => r.state !== 'creating').sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
  }

  /**
   * The ID of the sandbox, finished or being built, whose metadata has the
   * key `key` (see metadataKey): a pod name in use.
   */
  idOfName(key: string): string | undefined {
    return this.names.get(key);
  }

  /** Forgets a sandbox and deletes its state directory. */
  delete(id: string): void {
    const rec = this.sandboxes.get(id);
    if (rec && this.names.get(metadataKey(rec.metadata)) === id) this.names.delete(metadataKey(rec.metadata));
    this.sandboxes.delete(id);
    fs.rmSync(sandboxPaths(this.dirs, id).stateDir, { recursive: true, force: true });
  }

  /**
   * Runs `fn` while holding sandbox `id`'s lock, so Stop, Remove and the
   * creation of its containers never interleave.
   */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }
}
