import type { RemoveImageRequest__Output } from '../../generated/runtime/v1/RemoveImageRequest';
import type { RemoveImageResponse } from '../../generated/runtime/v1/RemoveImageResponse';
import { inUse, invalidArgument } from '../../common/errors';
import type { ImageContext } from './context';

/**
 * CRI `RemoveImage`: removes the image `image.image` resolves to (ID, tag or
 * digest) with all its tags and digests, and the layers and blobs no other
 * image uses. Removing an unknown image succeeds (idempotent); an image a
 * container uses (running or exited) is refused with FAILED_PRECONDITION, as
 * CRI-O does, since its layers are that container's lower dirs.
 */
export function removeImage(ctx: ImageContext) {
  return async (req: RemoveImageRequest__Output): Promise<RemoveImageResponse> => {
    const ref = req.image?.image ?? '';
    if (!ref) throw invalidArgument('image.image is required');
    const img = ctx.store.resolve(ref);
    const users = img ? (ctx.containersUsing?.(img.id) ?? []) : [];
    if (users.length > 0) {
      throw inUse(`image ${ref} (${img!.id}) is in use by container(s) ${users.join(', ')}; remove them first`);
    }
    if (img && ctx.store.remove(img.id)) ctx.log.info({ image: ref, id: img.id }, 'image removed');
    return {};
  };
}
