import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { PeapodImages } from '../../runtime-service/peapod';

/** What every ImageService handler shares: configuration, logger and the domain's images (store, puller, removal). */
export interface ImageContext {
  config: PeapodConfig;
  log: Logger;
  images: PeapodImages;
}
