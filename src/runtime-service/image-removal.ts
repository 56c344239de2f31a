import { inUse } from '../common/errors';
import { sleep } from '../common/time';
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';

/** Who uses an image: the containers whose rootfs stacks its layers. */
export interface ImageUsers {
  /** IDs of the containers (any owner, any state, `creating` included) made from image `imageId`. */
  usingImage(imageId: string): string[];
  /**
   * IDs of removed containers of image `imageId` whose rootfs (an overlay on
   * its layers) a live process still unmounts in the background
   * (container/release-markers.ts).
   */
  releasing(imageId: string): string[];
  /**
   * Runs `fn` (synchronous) while no container can be recorded by any
   * process: one IMMEDIATE transaction of the state database, the one a
   * container's row is written in after a check that its image is still in
   * the store (container/store.ts imageUsersOf, ContainerStore.insert).
   */
  exclusive<T>(fn: () => T): T;
}

/** How long a removal waits for removed containers' background releases of an image's rootfs, in ms. */
export const RELEASE_WAIT_MS = 30_000;

/** How often a waiting removal looks at the release markers again, in ms. */
const RELEASE_POLL_MS = 20;

/** Options of an image removal. */
export interface ImageRemovalOptions {
  /** Upper bound of the wait for background releases, in ms (RELEASE_WAIT_MS). */
  releaseWaitMs?: number;
  /** Told once, with the container IDs, when the removal has to wait for releases. */
  onWait?: (containerIds: string[]) => void;
}

/**
 * Removes an image already resolved (by the caller's ID, prefix, tag or
 * digest) with all its tags and digests, and the layers and blobs no other
 * image uses — unless a container, running or exited, of either front end
 * was made from it: its layers are that container's lower dirs (as CRI-O
 * refuses). A front end that removes its own containers first (`peapod rmi
 * -f`) calls this after that; another front end's containers always keep
 * the image.
 *
 * A container already removed whose rootfs is still being released in the
 * background (RemoveContainer answers before its overlay is unmounted,
 * container/release.ts) is waited for, in this process or another, up to
 * `releaseWaitMs`: its layers go only once no overlay stacks them.
 *
 * The check and the removal run in one transaction of the state database
 * (ImageUsers.exclusive), and a container is recorded only in one that
 * finds its image still there: a CreateContainer between resolving its
 * image and recording itself cannot have the layers deleted under it, in
 * this process or another (the CLI's `peapod rmi` beside peapod-cri). It
 * either is recorded first (the image is IN_USE) or finds the image gone
 * (NOT_FOUND).
 *
 * @returns true when it was removed, false when it was already gone.
 * @throws InUseError (code IN_USE) naming the containers, or the removed
 *   containers still being released when the wait ran out.
 */
export async function removeResolvedImage(deps: { images: ImageStore; containers: ImageUsers }, img: ImageRecord, name: string = img.id, options: ImageRemovalOptions = {}): Promise<boolean> {
  const users = deps.containers.usingImage(img.id);
  if (users.length > 0) throw usersError(img, name, users);
  let releasing = deps.containers.releasing(img.id);
  if (releasing.length > 0) {
    options.onWait?.(releasing);
    const end = Date.now() + (options.releaseWaitMs ?? RELEASE_WAIT_MS);
    while (releasing.length > 0 && Date.now() < end) {
      await sleep(RELEASE_POLL_MS);
      releasing = deps.containers.releasing(img.id);
    }
  }
  return deps.containers.exclusive(() => {
    const now = deps.containers.usingImage(img.id);
    if (now.length > 0) throw usersError(img, name, now);
    const still = deps.containers.releasing(img.id);
    if (still.length > 0) throw inUse(`image ${name} (${img.id}) is still being released from removed container(s) ${still.join(', ')}; try again`);
    return deps.images.remove(img.id);
  });
}

function usersError(img: ImageRecord, name: string, users: string[]): Error {
  return inUse(`image ${name} (${img.id}) is in use by container(s) ${users.join(', ')}; remove them first`);
}

/**
 * Removes the image `ref` resolves to (ID, ID prefix, tag or digest), by the
 * rule of removeResolvedImage. An unknown image is not an error.
 * @returns the removed image, or undefined when none matched.
 * @throws InUseError naming the containers.
 */
export async function removeImage(deps: { images: ImageStore; containers: ImageUsers }, ref: string, options: ImageRemovalOptions = {}): Promise<ImageRecord | undefined> {
  const img = deps.images.resolve(ref);
  if (!img) return undefined;
  return (await removeResolvedImage(deps, img, ref, options)) ? img : undefined;
}
