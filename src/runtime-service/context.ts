import type { PeapodConfig } from '../server/config';
import type { Logger } from '../server/logger';
import type { StreamingContext } from './streaming-context';

/**
 * What every RuntimeService handler shares: the effective configuration, the
 * logger, and the package version reported by Version.
 */
export interface RuntimeContext {
  config: PeapodConfig;
  log: Logger;
  /** peapod's version, from package.json. */
  version: string;
  /**
   * The streaming server and the container engine's streaming backend.
   * Absent until a real backend exists; Exec, Attach and PortForward answer
   * UNIMPLEMENTED while it is absent.
   */
  streaming?: StreamingContext;
}
