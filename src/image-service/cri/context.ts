import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { ImagePuller } from '../puller';
import type { ImageStore } from '../store/image-store';

/** What every ImageService handler shares: configuration, logger, the image store and the puller. */
export interface ImageContext {
  config: PeapodConfig;
  log: Logger;
  store: ImageStore;
  puller: ImagePuller;
  /**
   * IDs of the containers whose rootfs uses the image `imageId` (its layers
   * are their lower dirs); RemoveImage refuses while any does. The server
   * sets it once the container engine exists; unset means none.
   */
  containersUsing?: (imageId: string) => string[];
}
