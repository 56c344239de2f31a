import type { ImageStatusRequest__Output } from '../../generated/runtime/v1/ImageStatusRequest';
import type { ImageStatusResponse } from '../../generated/runtime/v1/ImageStatusResponse';
import { invalidArgument } from '../../common/errors';
import type { ImageRecord } from '../store/image-store';
import { RecordMemo } from '../../runtime-service/cri/record-memo';
import type { ImageContext } from './context';
import { toCriImage } from './image-view';

/**
 * CRI `ImageStatus`: the image `image.image` resolves to (ID, tag or
 * digest). An unknown image answers an empty response, not an error. With
 * `verbose`, `info.info` holds the image config JSON, as CRI-O does.
 *
 * Read from the store's shared records (ImageStore.resolveShared: each
 * reference resolved once per version of the store's database, any
 * process's commit starting a new one), the response built once per record
 * and answered again while it is unchanged (record-memo.ts), so neither the
 * view nor its encoding is made again.
 */
export function imageStatus(ctx: ImageContext) {
  const plain = new RecordMemo<ImageRecord, ImageStatusResponse>();
  const verbose = new RecordMemo<ImageRecord, ImageStatusResponse>();
  const EMPTY: ImageStatusResponse = Object.freeze({});
  return async (req: ImageStatusRequest__Output): Promise<ImageStatusResponse> => {
    const ref = req.image?.image ?? '';
    if (!ref) throw invalidArgument('image.image is required');
    const img = ctx.images.store.resolveShared(ref);
    if (!img) return EMPTY;
    const status = plain.get(img, () => ({ image: toCriImage(img, ctx.config.image.pinned_images) }));
    if (!req.verbose) return status;
    return verbose.get(img, () => ({
      image: status.image,
      info: { info: JSON.stringify({ id: img.id, imageSpec: img.config, chainIds: img.chainIds, manifestDigest: img.manifestDigest }) },
    }));
  };
}
