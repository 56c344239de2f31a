import type { StreamImagesRequest__Output } from '../../generated/runtime/v1/StreamImagesRequest';
import type { StreamImagesResponse } from '../../generated/runtime/v1/StreamImagesResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { ImageContext } from './context';
import { listImages } from './list-images';

/**
 * CRI `StreamImages` (KEP-5825): the images ListImages answers for the
 * same filter, in responses of at most `batchSize()` images each.
 * @param batchSize images per response (peapod-cri's `list_stream_batch_size`)
 */
export function streamImages(ctx: ImageContext, batchSize: () => number): ServerStreamImpl<StreamImagesRequest__Output, StreamImagesResponse> {
  const list = listImages(ctx);
  return streamInChunks(
    async (req: StreamImagesRequest__Output) => (await list(req)).images ?? [],
    (images) => ({ images }),
    batchSize,
  );
}
