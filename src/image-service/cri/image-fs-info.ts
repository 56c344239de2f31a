import type { ImageFsInfoRequest__Output } from '../../generated/runtime/v1/ImageFsInfoRequest';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';
import type { ImageContext } from './context';
import { nowNs } from '../../common/time';

/**
 * CRI `ImageFsInfo`: one `image_filesystems` entry for the image store:
 * `fs_id.mountpoint` = the store directory, `used_bytes` and `inodes_used`
 * counted over it (walked in the background and cached by the store),
 * `timestamp` in nanoseconds.
 */
export function imageFsInfo(ctx: ImageContext) {
  return async (_req: ImageFsInfoRequest__Output): Promise<ImageFsInfoResponse> => {
    const timestamp = nowNs().toString();
    const u = await ctx.images.store.usage();
    return {
      image_filesystems: [
        {
          timestamp,
          fs_id: { mountpoint: ctx.images.store.root },
          used_bytes: { value: String(u.bytes) },
          inodes_used: { value: String(u.inodes) },
        },
      ],
      container_filesystems: [],
    };
  };
}
