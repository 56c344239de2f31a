import type { CriConfig } from '../../server/config';
import type { Logger } from '../../common/logger';
import type { RetryStore } from '../../server/retry-store';
import type { ContainerEngine } from '../container/engine';
import type { LifecycleEvents } from '../lifecycle-events';
import type { Peapod } from '../peapod';
import type { Sandboxes } from '../sandbox/service';
import type { StreamingContext } from './streaming-context';

/**
 * What every RuntimeService handler shares: peapod-cri's configuration and
 * logger, the version reported by Version, the domain (opened with owner
 * `cri`), the kubelet-retry bookkeeping, the network facts the kubelet gave,
 * and the streaming server.
 */
export interface RuntimeContext {
  config: CriConfig;
  log: Logger;
  /** peapod's version, from package.json. */
  version: string;
  /** The domain: images, pods, containers (src/runtime-service/peapod.ts). */
  peapod: Peapod;
  /** The pods (`peapod.sandboxes`). */
  sandboxes: Sandboxes;
  /** The containers (`peapod.containers`). */
  containers: ContainerEngine;
  /** The kubelet's retries of RunPodSandbox and CreateContainer (src/server/retry-store.ts). */
  retries: RetryStore;
  /** Network facts the kubelet told us (UpdateRuntimeConfig). */
  network: { podCidr: string };
  /** The streaming server and the backends of Exec, Attach and PortForward. */
  streaming: StreamingContext;
  /** The pods' and containers' lifecycle events (GetContainerEvents), fed by `peapod` (Peapod.watchLifecycle). */
  events: LifecycleEvents;
}
