import type { CriConfig } from '../../server/config';
import type { Logger } from '../../common/logger';
import type { ImageStore } from '../../image-service/store/image-store';
import type { ContainerEngine } from '../container/engine';
import type { RunReservations } from '../sandbox/run-reservations';
import type { SandboxStore } from '../sandbox/store';
import type { StreamingContext } from './streaming-context';

/**
 * What every RuntimeService handler shares: the effective configuration, the
 * logger, the package version reported by Version, and the sandbox store.
 */
export interface RuntimeContext {
  config: CriConfig;
  log: Logger;
  /** peapod's version, from package.json. */
  version: string;
  /** The pod sandboxes (records on disk). */
  sandboxes: SandboxStore;
  /** RunPodSandbox calls in progress or finished after their caller left (the kubelet's retries). */
  sandboxRuns: RunReservations;
  /** The containers (records, runtime, monitors). */
  containers: ContainerEngine;
  /** The image store the containers' rootfs layers come from. */
  images: ImageStore;
  /** Network facts the kubelet told us (UpdateRuntimeConfig). */
  network: { podCidr: string };
  /**
   * The streaming server and the container engine's streaming backend.
   * Absent until a real backend exists; Exec, Attach and PortForward answer
   * UNIMPLEMENTED while it is absent.
   */
  streaming?: StreamingContext;
}
