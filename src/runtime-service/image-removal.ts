import { inUse } from '../common/errors';
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';

/** Who uses an image: the containers whose rootfs stacks its layers. */
export interface ImageUsers {
  /** IDs of the containers (any owner, any state, `creating` included) made from image `imageId`. */
  usingImage(imageId: string): string[];
  /**
   * Runs `fn` (synchronous) while no container can be recorded by any
   * process: one IMMEDIATE transaction of the state database, the one a
   * container's row is written in after a check that its image is still in
   * the store (container/store.ts imageUsersOf, ContainerStore.insert).
   */
  exclusive<T>(fn: () => T): T;
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
 * @throws InUseError (code IN_USE) naming the containers.
 */
export function removeResolvedImage(deps: { images: ImageStore; containers: ImageUsers }, img: ImageRecord, name: string = img.id): boolean {
  return deps.containers.exclusive(() => {
    const users = deps.containers.usingImage(img.id);
    if (users.length > 0) throw inUse(`image ${name} (${img.id}) is in use by container(s) ${users.join(', ')}; remove them first`);
    return deps.images.remove(img.id);
  });
}

/**
 * Removes the image `ref` resolves to (ID, ID prefix, tag or digest), by the
 * rule of removeResolvedImage. An unknown image is not an error.
 * @returns the removed image, or undefined when none matched.
 * @throws InUseError naming the containers.
 */
export function removeImage(deps: { images: ImageStore; containers: ImageUsers }, ref: string): ImageRecord | undefined {
  const img = deps.images.resolve(ref);
  if (!img) return undefined;
  return removeResolvedImage(deps, img, ref) ? img : undefined;
}
