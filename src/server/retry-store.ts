import { alreadyExists } from '../common/errors';

/**
 * The kubelet's retries of RunPodSandbox and CreateContainer, one mechanism
 * for both (CRI-O's internal/resourcestore is the model).
 *
 * Those calls may take longer than the kubelet's deadline. The kubelet then
 * gives up and retries with the same config; the first call keeps building.
 * The retry must get the resource the first call builds, not ALREADY_EXISTS
 * for its own name:
 * - a retry while the first call still builds joins it (same config) and
 *   gets its ID; a different config for the same name is ALREADY_EXISTS;
 * - a retry after the first call finished gets the resource once, when the
 *   first call's caller is gone — judged when the retry arrives, not when
 *   the first call finished, since on a loaded machine the first call can
 *   finish before the server has processed its caller's cancellation (the
 *   kubelet's RST_STREAM precedes its retry on the connection).
 * Anything else falls through to the domain, which refuses a duplicate name.
 *
 * Finished entries are kept `keepMs` (10 minutes: the kubelet retries within
 * seconds to its backoff's few minutes) and at most `maxEntries`.
 */
export class RetryStore {
  private readonly inProgress = new Map<string, { config: string; id: Promise<string>; joined: boolean }>();
  private readonly finished = new Map<string, { config: string; id: string; callerGone: () => boolean; at: number }>();

  /**
   * @param options.keepMs how long a finished creation waits for a retry (ms)
   * @param options.maxEntries most finished creations kept (the oldest go first)
   * @param options.now the clock (ms), replaceable in tests
   */
  constructor(private readonly options: { keepMs?: number; maxEntries?: number; now?: () => number } = {}) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Creates the resource `key` names (`create`), unless the call is the
   * kubelet's retry of a creation with the same `config` (see the class doc).
   *
   * @param key what makes the resource unique (a pod's metadata key, a container's pod/name/attempt)
   * @param config the request in a canonical form (canonicalJson)
   * @param call the caller: its `cancelled` tells later whether it left
   * @param create builds the resource and resolves with its ID
   * @param usable whether a finished resource can still be handed over (it exists, unchanged)
   * @returns the ID, and how it was got.
   * @throws AlreadyExistsError when a creation of `key` with another config is in progress; what `create` throws.
   */
  async run(
    key: string,
    config: string,
    call: { readonly cancelled: boolean },
    create: () => Promise<string>,
    usable: (id: string) => boolean,
  ): Promise<{ id: string; how: 'created' | 'joined' | 'handed over' }> {
    const running = this.inProgress.get(key);
    if (running) {
      if (running.config !== config) throw alreadyExists(`${key} is already being created with a different config`);
      running.joined = true;
      return { id: await running.id, how: 'joined' };
    }
    this.prune();
    const done = this.finished.get(key);
    if (done && done.config === config && done.callerGone() && usable(done.id)) {
      this.finished.delete(key);
      return { id: done.id, how: 'handed over' };
    }
    const entry = { config, id: create(), joined: false };
    this.inProgress.set(key, entry);
    let id: string;
    try {
      id = await entry.id;
    } finally {
      this.inProgress.delete(key);
    }
    // A retry that joined got it already; else keep it for a retry of a caller that left.
    if (!entry.joined) this.finished.set(key, { config, id, callerGone: () => call.cancelled, at: this.now() });
    this.prune();
    return { id, how: 'created' };
  }

  /** Forgets what is kept for resource `id` (after its removal). */
  forget(id: string): void {
    for (const [k, f] of this.finished) if (f.id === id) this.finished.delete(k);
  }

  /** Finished creations kept, for tests and logs. */
  get size(): number {
    return this.finished.size;
  }

  private prune(): void {
    const oldest = this.now() - (this.options.keepMs ?? 10 * 60_000);
    for (const [k, f] of this.finished) if (f.at < oldest) this.finished.delete(k);
    const max = this.options.maxEntries ?? 1000;
    for (const k of this.finished.keys()) {
      if (this.finished.size <= max) break;
      this.finished.delete(k);
    }
  }
}

/** JSON with object keys sorted, so equal configs give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
