/**
 * Removing an image, with the rule that keeps a container's rootfs whole:
 * an image whose layers are lower dirs of a container (running or exited)
 * is refused unless forced. Which containers use an image is the caller's
 * answer today (peapod-cri's container engine; none for the CLI, which has no
 * container domain yet); the restructuring makes it a domain rule.
 */
import type { ImageRecord, ImageStore } from './store/image-store';

/** An image that containers use; `containers` names them. */
export class ImageInUseError extends Error {
  constructor(
    readonly imageId: string,
    readonly containers: string[],
  ) {
    super(`image ${imageId.replace(/^sha256:/, '').slice(0, 12)} is in use by container(s) ${containers.join(', ')}: remove them first, or force`);
    this.name = 'ImageInUseError';
  }
}

/** How to remove. */
export interface RemoveImageOptions {
  /** Remove even when containers use the image. */
  force?: boolean;
  /** IDs of the containers using image `id` (default: none). */
  containersUsing?: (id: string) => string[];
}

/**
 * Removes `img` with all its names, and the layers and blobs no other image
 * uses, unless containers use it.
 * @returns true when it was removed, false when it was already gone.
 * @throws ImageInUseError when containers use it and `force` is not set.
 */
export function removeImage(store: ImageStore, img: ImageRecord, options: RemoveImageOptions = {}): boolean {
  const users = options.containersUsing?.(img.id) ?? [];
  if (users.length > 0 && !options.force) throw new ImageInUseError(img.id, users);
  return store.remove(img.id);
}
