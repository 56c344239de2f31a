import type { PeapodConfig } from '../server/config';
import type { Logger } from '../server/logger';

/**
 * What every RuntimeService handler shares: the effective configuration, the
 * logger, and the package version reported by Version.
 */
export interface RuntimeContext {
  config: PeapodConfig;
  log: Logger;
  /** peapod's version, from package.json. */
  version: string;
}
