import type { ListImagesRequest__Output } from '../../generated/runtime/v1/ListImagesRequest';
import type { ListImagesResponse } from '../../generated/runtime/v1/ListImagesResponse';
import type { ImageContext } from './context';
import { toCriImage } from './image-view';

/**
 * CRI `ListImages`: every stored image, or with `filter.image.image` set only
 * the image that reference (ID, tag or digest) resolves to.
 */
export function listImages(ctx: ImageContext) {
  return async (req: ListImagesRequest__Output): Promise<ListImagesResponse> => {
    const want = req.filter?.image?.image;
    if (want) {
      const img = ctx.images.store.resolve(want);
      return { images: img ? [toCriImage(img, ctx.config.image.pinned_images)] : [] };
    }
    return { images: ctx.images.store.list().map((i) => toCriImage(i, ctx.config.image.pinned_images)) };
  };
}
