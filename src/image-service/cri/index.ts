import type { ImageServiceDefinition } from '../../generated/runtime/v1/ImageService';
import type { UnaryImpls } from '../../server/rpc';
import type { ImageContext } from './context';
import { imageFsInfo } from './image-fs-info';
import { imageStatus } from './image-status';
import { listImages } from './list-images';
import { pullImage } from './pull-image';
import { removeImage } from './remove-image';

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
