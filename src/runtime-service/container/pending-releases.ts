/**
 * Removed containers' releases (release.ts) running in the background, by
 * container ID: a pod's removal waits for its containers' releases, and
 * ContainerEngine.settled for every one.
 */

/** Where a failed release is reported (pino-compatible). */
interface ReleaseLog {
  error(obj: object, msg?: string): void;
}

/** The releases running in the background, by container ID. */
export class PendingReleases {
  private readonly pending = new Map<string, { sandboxId: string; done: Promise<void> }>();

  /** @param log where a failed release is reported */
  constructor(private readonly log: ReleaseLog) {}

  /** Runs `release` in the background for container `id` of pod `sandboxId`; a failure is logged, not thrown. */
  start(id: string, sandboxId: string, release: () => Promise<void>): void {
    const done: Promise<void> = release()
      .catch((err: unknown) => this.log.error({ id, err }, 'releasing a removed container failed; the next start removes what is left'))
      .finally(() => {
        if (this.pending.get(id)?.done === done) this.pending.delete(id);
      });
    this.pending.set(id, { sandboxId, done });
  }

  /** Number of releases still running. */
  get size(): number {
    return this.pending.size;
  }

  /** Resolves once the releases of pod `sandboxId`'s containers (of every pod when undefined) have ended. */
  async settled(sandboxId?: string): Promise<void> {
    await Promise.all([...this.pending.values()].filter((p) => sandboxId === undefined || p.sandboxId === sandboxId).map((p) => p.done));
  }
}
