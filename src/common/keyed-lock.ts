/**
 * A lock per key inside one process: work on one key runs one at a time, in
 * call order, while work on other keys runs freely. (Across processes,
 * peapod adds the SQLite-held locks of the state store on top.)
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` once every earlier `run` on `key` has settled.
   * @returns what `fn` returns or throws.
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** True while some work holds or waits for `key`. */
  held(key: string): boolean {
    return this.tails.has(key);
  }
}
