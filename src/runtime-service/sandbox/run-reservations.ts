/**
 * Bookkeeping that lets a RunPodSandbox outlive its caller: the kubelet
 * gives up after its deadline and retries with the same config; the first
 * call keeps building and the retry gets the finished sandbox (as CRI-O
 * does) instead of ALREADY_EXISTS.
 *
 * Keys are the pod's metadata key (name_namespace_uid_attempt); configs are
 * compared in a canonical JSON form.
 */
export class RunReservations {
  /** Runs in progress: key → config and the promise of the new sandbox ID. */
  private readonly inProgress = new Map<string, { config: string; id: Promise<string>; joined: boolean }>();
  /** Finished runs whose caller was gone: key → config and sandbox ID. */
  private readonly unclaimed = new Map<string, { config: string; id: string }>();

  /** The run in progress for `key`, if any. */
  running(key: string): { config: string; id: Promise<string>; joined: boolean } | undefined {
    return this.inProgress.get(key);
  }

  /**
   * Joins the run in progress for `key` (a retry with the same config): the
   * sandbox is then the retry's, never left unclaimed.
   */
  join(key: string): Promise<string> | undefined {
    const r = this.inProgress.get(key);
    if (!r) return undefined;
    r.joined = true;
    return r.id;
  }

  /** Records a run in progress; it is dropped when `id` settles. */
  start(key: string, config: string, id: Promise<string>): void {
    this.inProgress.set(key, { config, id, joined: false });
    id.then(
      () => this.inProgress.delete(key),
      () => this.inProgress.delete(key),
    );
  }

  /**
   * Marks a finished run as not received by its caller, unless a retry
   * joined it while it ran. Call before the run's promise settles its
   * bookkeeping (i.e. right after awaiting it).
   * @returns true when it is now unclaimed.
   */
  leaveUnclaimed(key: string, config: string, id: string, joined: boolean): boolean {
    if (joined) return false;
    this.unclaimed.set(key, { config, id });
    return true;
  }

  /**
   * Claims the unclaimed sandbox for `key` when its config is `config`.
   * @returns its ID, or undefined when there is none or the config differs.
   */
  claim(key: string, config: string): string | undefined {
    const u = this.unclaimed.get(key);
    if (!u || u.config !== config) return undefined;
    this.unclaimed.delete(key);
    return u.id;
  }

  /** Forgets whatever is kept for sandbox `id` (on removal). */
  forget(id: string): void {
    for (const [k, u] of this.unclaimed) if (u.id === id) this.unclaimed.delete(k);
  }
}

/** JSON with object keys sorted, so equal configs give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
