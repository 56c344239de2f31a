import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { PeapodImages } from '../../runtime-service/peapod';
import type { PullObserver } from '../pull-observer';

/** What every ImageService handler shares: configuration, logger, the domain's images (store, puller, removal) and an optional pull observer. */
export interface ImageContext {
  config: PeapodConfig;
  log: Logger;
  images: PeapodImages;
  /** Told of every PullImage (the Prometheus metrics), when set. */
  pullObserver?: PullObserver;
}
