import type { Image } from '../../generated/runtime/v1/Image';
import type { ListImagesRequest__Output } from '../../generated/runtime/v1/ListImagesRequest';
import type { ListImagesResponse } from '../../generated/runtime/v1/ListImagesResponse';
import { EncodedList } from '../../runtime-service/cri/encoded-list';
import { ResponseMemo } from '../../runtime-service/cri/response-memo';
import type { ImageRecord } from '../store/image-store';
import { loadCri } from '../../server/proto';
import type { ImageContext } from './context';
import { toCriImage } from './image-view';

/**
 * CRI `ListImages`: every stored image, or with `filter.image.image` set only
 * the image that reference (ID, tag or digest) resolves to.
 *
 * Read from the store's shared records (ImageStore.listShared, resolveShared:
 * read again only after a commit of any process); each image's view is
 * built and encoded once per record (encoded-list.ts), and while the filter
 * and the records are the same the same response (and its encoding) is
 * answered again (response-memo.ts).
 */
export function listImages(ctx: ImageContext) {
  const list = new EncodedList<ImageRecord, Image, ListImagesResponse>((img) => toCriImage(img, ctx.config.image.pinned_images), (images) => ({ images }), loadCri().runtime.v1.ImageService.service.ListImages.responseSerialize);
  const memo = new ResponseMemo<ListImagesResponse>();
  return async (req: ListImagesRequest__Output): Promise<ListImagesResponse> => {
    const want = req.filter?.image?.image;
    if (want) {
      const img = ctx.images.store.resolveShared(want);
      const recs = img ? [img] : [];
      return memo.get(`ref:${want}`, recs, () => list.response(recs));
    }
    const recs = ctx.images.store.listShared();
    return memo.get('', recs, () => list.response(recs));
  };
}
