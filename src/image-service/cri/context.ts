import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { ImagePuller } from '../puller';
import type { ImageStore } from '../store/image-store';
import type { ImageUsers } from '../../runtime-service/image-removal';

/** What every ImageService handler shares: configuration, logger, the image store, the puller and the containers using images. */
export interface ImageContext {
  config: PeapodConfig;
  log: Logger;
  store: ImageStore;
  puller: ImagePuller;
  /** The containers, for the in-use rule of RemoveImage. */
  containers: ImageUsers;
}
