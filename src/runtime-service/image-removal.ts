import { inUse } from '../common/errors';
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';

/** Who uses an image: the containers whose rootfs stacks its layers. */
export interface ImageUsers {
  /** IDs of the containers (any state) made from image `imageId`. */
  usingImage(imageId: string): string[];
}

/**
 * Removes the image `ref` resolves to (ID, ID prefix, tag or digest) with all
 * its tags and digests, and the layers and blobs no other image uses — unless
 * a container, running or exited, was made from it: its layers are that
 * container's lower dirs (as CRI-O refuses). An unknown image is not an error.
 *
 * @returns the removed image, or undefined when none matched.
 * @throws InUseError naming the containers.
 */
export function removeImage(deps: { images: ImageStore; containers: ImageUsers }, ref: string): ImageRecord | undefined {
  const img = deps.images.resolve(ref);
  if (!img) return undefined;
  const users = deps.containers.usingImage(img.id);
  if (users.length > 0) throw inUse(`image ${ref} (${img.id}) is in use by container(s) ${users.join(', ')}; remove them first`);
  return deps.images.remove(img.id) ? img : undefined;
}
