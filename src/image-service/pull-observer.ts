import type { PullProgress } from './puller';

/**
 * Watches image pulls from outside the puller, for metrics (the Prometheus
 * endpoint of peapod-cri, src/server/prometheus/): `pullStarted` is called
 * as a pull begins and returns the watch of that pull, which receives the
 * pull's progress events and, once, its end. Implementations must not
 * throw.
 */
export interface PullObserver {
  pullStarted(reference: string): PullWatch;
}

/** One pull being watched (see PullObserver). */
export interface PullWatch {
  /** The puller's progress events (PullRequestOptions.onProgress). */
  onProgress(event: PullProgress): void;
  /** The pull ended: `error` undefined on success. */
  finished(error?: unknown): void;
}
