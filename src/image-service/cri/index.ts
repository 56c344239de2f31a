import type { ImageServiceDefinition } from '../../generated/runtime/v1/ImageService';
import type { ImageServiceHandlers } from '../../generated/runtime/v1/ImageService';
import type { ServerStreamImpls, UnaryImpls } from '../../server/rpc';
import type { ImageContext } from './context';
import { imageFsInfo } from './image-fs-info';
import { imageStatus } from './image-status';
import { listImages } from './list-images';
import { pullImage } from './pull-image';
import { removeImage } from './remove-image';
import { streamImages } from './stream-images';

/**
 * The CRI ImageService methods peapod implements, by RPC name. Every method
 * not listed here answers UNIMPLEMENTED (see server/rpc.ts).
 */
export function imageServiceImpls(ctx: ImageContext): UnaryImpls<ImageServiceDefinition> {
  return {
    PullImage: pullImage(ctx),
    ListImages: listImages(ctx),
    ImageStatus: imageStatus(ctx),
    RemoveImage: removeImage(ctx),
    ImageFsInfo: imageFsInfo(ctx),
  };
}

/**
 * The CRI ImageService server-streaming methods peapod implements, by RPC
 * name (the rest answer UNIMPLEMENTED).
 * @param batchSize images per response of StreamImages (`list_stream_batch_size`)
 */
export function imageServiceStreams(ctx: ImageContext, batchSize: () => number): ServerStreamImpls<ImageServiceHandlers> {
  return {
    StreamImages: streamImages(ctx, batchSize),
  };
}
