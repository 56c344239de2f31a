/**
 * Removed containers' releases (release.ts) running in the background, by
 * container ID: a pod's removal waits for its containers' releases, and
 * ContainerEngine.settled for every one. A release marked beforehand
 * (`mark`, release-markers.ts) clears its marker when it ends, so image
 * removal in any process waits for it.
 */
import type { ReleaseMarkers } from './release-markers';

/** Where a failed release is reported (pino-compatible). */
interface ReleaseLog {
  error(obj: object, msg?: string): void;
}

/** The releases running in the background, by container ID. */
export class PendingReleases {
  private readonly pending = new Map<string, { sandboxId: string; done: Promise<void> }>();
  /** Markers written by `mark` whose release has not ended, by container ID. */
  private readonly marked = new Map<string, () => void>();

  /**
   * @param log where a failed release is reported
   * @param markers where `mark` records a release for other processes (none: `mark` does nothing)
   */
  constructor(
    private readonly log: ReleaseLog,
    private readonly markers?: ReleaseMarkers,
  ) {}

  /**
   * Marks container `id` (made from image `imageId`) as being released, for
   * every process's image removal; call before its row is deleted. The
   * marker is cleared when the release `start`ed for it ends, or by `unmark`.
   */
  mark(id: string, imageId: string): void {
    if (!this.markers) return;
    this.marked.get(id)?.();
    this.marked.set(id, this.markers.mark(imageId, id));
  }

  /** Clears container `id`'s marker (a removal that failed before its release started). */
  unmark(id: string): void {
    this.marked.get(id)?.();
    this.marked.delete(id);
  }

  /** Runs `release` in the background for container `id` of pod `sandboxId`; a failure is logged, not thrown. */
  start(id: string, sandboxId: string, release: () => Promise<void>): void {
    const done: Promise<void> = release()
      .catch((err: unknown) => this.log.error({ id, err }, 'releasing a removed container failed; the next start removes what is left'))
      .finally(() => {
        if (this.pending.get(id)?.done === done) {
          this.pending.delete(id);
          this.unmark(id);
        }
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
