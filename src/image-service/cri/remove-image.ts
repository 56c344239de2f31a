import type { RemoveImageRequest__Output } from '../../generated/runtime/v1/RemoveImageRequest';
import type { RemoveImageResponse } from '../../generated/runtime/v1/RemoveImageResponse';
import { invalidArgument } from '../../common/errors';
import type { ImageContext } from './context';

/**
 * CRI `RemoveImage`: removes the image `image.image` resolves to (ID, tag or
 * digest) with all its tags and digests, and the layers and blobs no other
 * image uses. Removing an unknown image succeeds (idempotent); an image a
 * container uses (running or exited) is refused (IN_USE: FAILED_PRECONDITION),
 * as CRI-O does, since its layers are that container's lower dirs
 * (the domain rule of runtime-service/image-removal.ts).
 */
export function removeImage(ctx: ImageContext) {
  return async (req: RemoveImageRequest__Output): Promise<RemoveImageResponse> => {
    const ref = req.image?.image ?? '';
    if (!ref) throw invalidArgument('image.image is required');
    const removed = await ctx.images.remove(ref);
    if (removed) ctx.log.info({ image: ref, id: removed.id }, 'image removed');
    return {};
  };
}
