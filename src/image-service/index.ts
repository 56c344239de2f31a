import * as path from 'node:path';
import type { PeapodConfig } from '../common/config';
import type { Logger } from '../common/logger';
import { ImagePuller } from './puller';
import { loadRegistriesConf } from './registries-conf';
import { ImageStore } from './store/image-store';

export { ImageStore } from './store/image-store';
export type { ImageRecord, OciImageConfig, LayerRecord } from './store/image-store';
export { ImagePuller, PullError } from './puller';
export type { PullerOptions, PullRequestOptions, PullProgress } from './puller';
export { parseReference, formatReference, InvalidReferenceError } from './reference';
export type { ImageReference } from './reference';
export { loadRegistriesConf } from './registries-conf';

/** The image store's directory under peapod's root: `<root>/storage`. */
export function storageRoot(config: Pick<PeapodConfig, 'root'>): string {
  return path.join(config.root, 'storage');
}

/** The image store and the puller that fills it. */
export interface Images {
  store: ImageStore;
  puller: ImagePuller;
}

/**
 * Opens the image store under `<config.root>/storage` and makes a puller
 * configured from `[image]` (registries.conf read at each pull).
 */
export function openImages(config: PeapodConfig, log: Logger): Images {
  const store = ImageStore.open(storageRoot(config));
  const puller = new ImagePuller(store, {
    registries: () => loadRegistriesConf(config.image.registries_conf, config.image.registries_conf_dir),
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    connectTimeoutMs: config.image.connect_timeout * 1000,
    idleTimeoutMs: config.image.idle_timeout * 1000,
    log: (msg, fields) => log.info(fields ?? {}, msg),
  });
  return { store, puller };
}
