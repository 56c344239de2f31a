import type { ImageStatusRequest__Output } from '../../generated/runtime/v1/ImageStatusRequest';
import type { ImageStatusResponse } from '../../generated/runtime/v1/ImageStatusResponse';
import { invalidArgument } from '../../common/errors';
import type { ImageContext } from './context';
import { toCriImage } from './image-view';

/**
 * CRI `ImageStatus`: the image `image.image` resolves to (ID, tag or
 * digest). An unknown image answers an empty response, not an error. With
 * `verbose`, `info.info` holds the image config JSON, as CRI-O does.
 */
export function imageStatus(ctx: ImageContext) {
  return async (req: ImageStatusRequest__Output): Promise<ImageStatusResponse> => {
    const ref = req.image?.image ?? '';
    if (!ref) throw invalidArgument('image.image is required');
    const img = ctx.images.store.resolve(ref);
    if (!img) return {};
    const res: ImageStatusResponse = { image: toCriImage(img, ctx.config.image.pinned_images) };
    if (req.verbose) res.info = { info: JSON.stringify({ id: img.id, imageSpec: img.config, chainIds: img.chainIds, manifestDigest: img.manifestDigest }) };
    return res;
  };
}
