/**
 * Markers of removed containers whose rootfs is still being released in the
 * background (release.ts, pending-releases.ts): rows of the state database's
 * locks table, key `release:<imageId>/<containerId>`, held by the releasing
 * process (pid and start time, src/common/process-lock.ts). A marker is
 * written before the container's row is deleted and removed once its
 * release has ended, so at every moment a container either has its row or
 * its marker until its overlay is unmounted. Image removal in any process
 * (peapod-cri's RemoveImage, the CLI's `rmi` and `system prune`) waits for
 * an image's markers before deleting its layers (image-removal.ts). A marker
 * whose holder died reads as gone: that process's next start recovers what
 * its release left.
 */
import { lockHolderAlive } from '../../common/process-lock';
import type { StateDb } from '../state-db';

const PREFIX = 'release:';

/** Writes and clears release markers in one state database. */
export interface ReleaseMarkers {
  /**
   * Marks container `containerId` (of image `imageId`) as being released by this process.
   * @returns a function that clears the marker (idempotent).
   */
  mark(imageId: string, containerId: string): () => void;
}

/** The markers of state database `state`, held by this process. */
export function releaseMarkers(state: StateDb): ReleaseMarkers {
  return {
    mark(imageId, containerId) {
      const key = `${PREFIX}${imageId}/${containerId}`;
      // A row of a dead holder under the same key (a reused ID) is taken over.
      state.locks.tryAcquire(key);
      return () => state.locks.release(key);
    },
  };
}

/**
 * IDs of the removed containers of image `imageId` that a live process is
 * still releasing (one range query on the locks table's primary key).
 */
export function containersReleasingImage(state: StateDb, imageId: string): string[] {
  const start = `${PREFIX}${imageId}/`;
  // '0' is the character after '/': the range holds exactly the keys starting with `start`.
  const rows = state.db.prepare('SELECT key, pid, start_time FROM locks WHERE key >= ? AND key < ?').all(start, `${PREFIX}${imageId}0`) as { key: string; pid: number; start_time: string | null }[];
  return rows.filter((r) => lockHolderAlive(r)).map((r) => r.key.slice(start.length));
}
