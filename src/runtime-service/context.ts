import type { PeapodConfig } from '../server/config';
import type { Logger } from '../server/logger';
import type { SandboxStore } from './sandbox/store';

/**
 * What every RuntimeService handler shares: the effective configuration, the
 * logger, the package version reported by Version, and the sandbox store.
 */
export interface RuntimeContext {
  config: PeapodConfig;
  log: Logger;
  /** peapod's version, from package.json. */
  version: string;
  /** The pod sandboxes (records on disk, hooks for the container code). */
  sandboxes: SandboxStore;
  /** Network facts the kubelet told us (UpdateRuntimeConfig). */
  network: { podCidr: string };
}
