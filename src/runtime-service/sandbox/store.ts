import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../../common/atomic-file';
import { KeyedLock } from '../../common/keyed-lock';
import { SANDBOX_ID_PATTERN, SandboxRecord } from './record';
import { sandboxesStateDir, sandboxPaths } from './paths';
import { RunReservations } from './run-reservations';

/**
 * The on-disk form of a sandbox record. `phase` is `creating` from the first
 * step of RunPodSandbox until it succeeded: a record still `creating` at
 * start-up belongs to a RunPodSandbox cut short by a crash, and is torn down.
 */
export interface StoredSandbox {
  version: 1;
  phase: 'creating' | 'created';
  record: SandboxRecord;
  /** Kernel start time of the infra process (pid-reuse guard), when there is one. */
  infraStartTime?: string;
}

/** Acts on every container of a sandbox (filled by the container code). */
export type ContainersHook = (sandbox: SandboxRecord) => Promise<void>;

/**
 * The sandboxes peapod knows, in memory and on disk (one JSON file per
 * sandbox at `<root>/sandboxes/<id>/sandbox.json`, written atomically on
 * every change).
 *
 * Only finished sandboxes are visible through `get`/`list`; one being built
 * is on disk as `creating` but not listed.
 */
export class SandboxStore {
  private readonly sandboxes = new Map<string, StoredSandbox>();
  private readonly locks = new KeyedLock();
  private stopContainersHook: ContainersHook = async () => undefined;
  private removeContainersHook: ContainersHook = async () => undefined;
  /** RunPodSandbox calls in progress or finished after their caller left. */
  readonly runs = new RunReservations();

  /** @param dirs the configured root and runroot */
  constructor(private readonly dirs: { root: string; runroot: string }) {}

  /**
   * Reads every record from disk into memory.
   * @returns the records still `creating` (to be torn down by the caller)
   *   and the finished ones; unreadable files are reported in `broken`.
   */
  load(): { creating: StoredSandbox[]; created: StoredSandbox[]; broken: string[] } {
    const dir = sandboxesStateDir(this.dirs.root);
    const out = { creating: [] as StoredSandbox[], created: [] as StoredSandbox[], broken: [] as string[] };
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
      let stored: StoredSandbox;
      try {
        stored = JSON.parse(fs.readFileSync(file, 'utf8')) as StoredSandbox;
      } catch {
        out.broken.push(file);
        continue;
      }
      if (stored.phase === 'creating') out.creating.push(stored);
      else {
        this.sandboxes.set(id, stored);
        out.created.push(stored);
      }
    }
    return out;
  }

  /**
   * A finished sandbox by full ID or by a prefix matching exactly one.
   * @returns undefined when none or several match.
   */
  get(idOrUniquePrefix: string): SandboxRecord | undefined {
    return this.getStored(idOrUniquePrefix)?.record;
  }

  /** Like `get`, with the on-disk wrapper. */
  getStored(idOrUniquePrefix: string): StoredSandbox | undefined {
    if (idOrUniquePrefix === '') return undefined;
    const exact = this.sandboxes.get(idOrUniquePrefix);
    if (exact) return exact;
    let found: StoredSandbox | undefined;
    for (const [id, s] of this.sandboxes) {
      if (!id.startsWith(idOrUniquePrefix)) continue;
      if (found) return undefined;
      found = s;
    }
    return found;
  }

  /** All finished sandboxes, oldest first. */
  list(): SandboxRecord[] {
    return [...this.sandboxes.values()].map((s) => s.record).sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1));
  }

  /**
   * Writes a record to disk (creating its state directory) and, when
   * `phase` is `created`, makes it visible.
   * @throws the fs error when it cannot be written.
   */
  save(stored: StoredSandbox): void {
    const p = sandboxPaths(this.dirs, stored.record.id);
    fs.mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(p.recordFile, JSON.stringify(stored));
    if (stored.phase === 'created') this.sandboxes.set(stored.record.id, stored);
  }

  /** Forgets a sandbox and deletes its state directory. */
  delete(id: string): void {
    this.sandboxes.delete(id);
    fs.rmSync(sandboxPaths(this.dirs, id).stateDir, { recursive: true, force: true });
  }

  /**
   * Runs `fn` while holding sandbox `id`'s lock, so Stop and Remove of one
   * sandbox never interleave.
   */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /**
   * Registers the hook StopPodSandbox calls to stop every container of a
   * sandbox before its network goes away. The container code sets it; until
   * then it does nothing.
   */
  setStopContainersHook(hook: ContainersHook): void {
    this.stopContainersHook = hook;
  }

  /**
   * Registers the hook RemovePodSandbox calls, after stopping, to remove
   * every container of a sandbox. Until the container code sets it, it
   * does nothing.
   */
  setRemoveContainersHook(hook: ContainersHook): void {
    this.removeContainersHook = hook;
  }

  /** Removes every container of `sandbox` through the registered hook. */
  removeContainersOfSandbox(sandbox: SandboxRecord): Promise<void> {
    return this.removeContainersHook(sandbox);
  }

  /** Stops every container of `sandbox` through the registered hook. */
  stopContainersOfSandbox(sandbox: SandboxRecord): Promise<void> {
    return this.stopContainersHook(sandbox);
  }
}
