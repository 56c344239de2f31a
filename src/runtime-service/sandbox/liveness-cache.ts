/**
 * When a ready sandbox was last found alive (its namespace pins namespace
 * files, its infra process the recorded one), so that a list need not check
 * every pod again on every call. A pod's check costs a statfs per pin and a
 * /proc read (tens of microseconds, on the event loop); ListPodSandbox of 100
 * pods called back to back by several clients (the kubelet's relist every
 * second, crictl, agents) spent most of its time there, while containerd
 * answers from memory.
 *
 * A passed check is trusted for `maxAgeMs` (the kubelet's relist period by
 * default): a pod that loses its namespaces or infra process behind peapod's
 * back shows NOTREADY in a list at most that much later. Calls that act on
 * one pod (PodSandboxStatus, CreateContainer) check it at once, as before.
 * Entries are keyed by record object: the stores hand out new objects after
 * any change of the state database, so a changed record is checked afresh,
 * and the entries of records no longer held are collected with them.
 */
export class SandboxLivenessCache<R extends object> {
  private readonly checkedAt = new WeakMap<R, number>();

  /**
   * @param maxAgeMs how long a passed check is trusted, in ms (0: never)
   * @param now the clock, in ms (monotonic in production)
   */
  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Whether `rec` is alive: true without calling `check` when it passed one
   * within `maxAgeMs`; else `check(rec)`, remembered when it passed (a
   * failed check is never cached: the caller marks the record lost).
   */
  alive(rec: R, check: (rec: R) => boolean): boolean {
    const t = this.now();
    const at = this.checkedAt.get(rec);
    if (at !== undefined && t - at < this.maxAgeMs) return true;
    const ok = check(rec);
    if (ok) this.checkedAt.set(rec, t);
    else this.checkedAt.delete(rec);
    return ok;
  }

  /** Forgets `rec`'s last check (its next `alive` checks again). */
  forget(rec: R): void {
    this.checkedAt.delete(rec);
  }
}
