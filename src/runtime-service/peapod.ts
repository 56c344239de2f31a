/**
 * The composition root of peapod's domain, shared by both front ends:
 * `openPeapod(config, log, { owner })` opens the image store, the state
 * database and the pod and container services over them, wired by explicit
 * calls (a pod's stop stops its containers; an image a container uses is not
 * removed). peapod-cri opens it with owner `cri`, the `peapod` CLI with
 * owner `cli`; each sees and recovers its own pods and containers, and both
 * share the images.
 */
import type { PeapodConfig } from '../common/config';
import { notFound, wrongState } from '../common/errors';
import type { Logger } from '../common/logger';
import type { ImagePuller } from '../image-service/puller';
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';
import type { ContainerEngine, CreateOptions } from './container/engine';
import { openContainerEngine } from './container/open';
import type { ContainerRecord } from './container/record';
import type { ContainerSpec } from './container/spec';
import { removeImage } from './image-removal';
import { importLegacyRecords } from './legacy-records';
import type { LifecycleEvents } from './lifecycle-events';
import { Sandboxes } from './sandbox/service';
import { SandboxStore } from './sandbox/store';
import { securePeapodDirs } from './state-dirs';
import { openStateDb, Owner, StateDb } from './state-db';
import { quoteInput } from '../common/bounded-text';

/** The images, as every front end uses them. */
export interface PeapodImages {
  store: ImageStore;
  puller: ImagePuller;
  /**
   * Removes the image `ref` resolves to, with its tags, digests and unshared
   * layers, unless a container of any front end was made from it; waits
   * for removed containers' background releases of its rootfs first
   * (image-removal.ts).
   * @returns the removed image, or undefined when none matched.
   * @throws InUseError naming the containers.
   */
  remove(ref: string): Promise<ImageRecord | undefined>;
}

/** What `recover` does. */
export interface RecoverOptions {
  /**
   * Ask the runtime about every created or running container without an
   * exit file (a `runc state` each: containers lost across a reboot become
   * exited). Default true; a short-lived CLI command may skip it.
   */
  reconcileRuntime?: boolean;
  /** Watch conmon's exit directory and record exits as they happen (a long-lived process). Default true. */
  watchExits?: boolean;
}

/** peapod's domain for one process: images, pods, containers. */
export class Peapod {
  readonly images: PeapodImages;
  readonly sandboxes: Sandboxes;
  readonly containers: ContainerEngine;

  /** Use openPeapod. */
  constructor(
    readonly config: PeapodConfig,
    readonly log: Logger,
    readonly state: StateDb,
    images: { store: ImageStore; puller: ImagePuller },
  ) {
    this.containers = openContainerEngine(config, log, state);
    this.sandboxes = new Sandboxes({ config, log, sandboxes: new SandboxStore(state, config), containers: this.containers });
    const containers = this.containers;
    // `store` and `puller` are read when used, so a front end may pass getters that open them on first use (the CLI: `pod create` opens no image store, a pull alone loads the HTTP client).
    this.images = {
      get store(): ImageStore {
        return images.store;
      },
      get puller(): ImagePuller {
        return images.puller;
      },
      remove: (ref) =>
        removeImage({ images: images.store, containers }, ref, {
          onWait: (ids) => log.info({ image: ref, containers: ids }, 'image removal waits for the background release of removed containers'),
        }),
    };
  }

  /**
   * Feeds `events` from this process's pod and container records: every
   * change the stores write from now on (creations, starts, exits seen by
   * the exit watcher or by recovery, stops, removals) becomes a lifecycle
   * event with a snapshot of its pod (lifecycle-events.ts). Call before
   * `recover()` so recovery's findings are events too.
   */
  watchLifecycle(events: LifecycleEvents): void {
    const sandboxStore = this.sandboxes.store;
    events.setSource({
      sandbox: (id) => sandboxStore.getAny(id),
      containers: (sandboxId) => this.containers.list().filter((c) => c.sandboxId === sandboxId),
    });
    sandboxStore.observer = (change) => events.sandbox(change);
    this.containers.observeRecords((change) => events.container(change));
  }

  /** The front end this process is. */
  get owner(): Owner {
    return this.state.owner;
  }

  /**
   * Start-up recovery of this front end's records: records of an older
   * peapod imported, locks of dead processes deleted, interrupted creations
   * of dead processes rolled back,
   * pods whose namespaces are gone marked notready, containers reconciled
   * with their exit files and the runtime (see RecoverOptions).
   */
  async recover(options: RecoverOptions = {}): Promise<void> {
    importLegacyRecords(this.state, this.config.root);
    // Locks of processes killed while holding them would be taken over when next wanted; gone now, none is left forever.
    this.state.locks.removeDead();
    await this.sandboxes.recover();
    await this.containers.recover({ reconcileRuntime: options.reconcileRuntime ?? true, watchExits: options.watchExits ?? true });
  }

  /**
   * Creates a container in a pod: under the pod's lock, the pod must be
   * ready, checked now (its namespaces there, its infra process the same
   * live process: Sandboxes.refresh), and the image (`spec.image.name`: a
   * reference, ID or digest) in the store; then the container code creates
   * it (container/create.ts).
   * @param options the front end's ID, exit command, name rule (CreateOptions)
   * @throws NotFoundError for an unknown pod or image; WrongStateError for a
   *   pod that is not ready; what createContainer throws.
   */
  createContainer(podIdOrPrefix: string, spec: ContainerSpec, options: CreateOptions = {}): Promise<ContainerRecord> {
    const found = this.sandboxes.get(podIdOrPrefix);
    if (!found) throw notFound(`pod sandbox ${podIdOrPrefix} not found`);
    return this.sandboxes.withLock(found.id, async () => {
      const recorded = this.sandboxes.get(found.id);
      if (!recorded) throw notFound(`pod sandbox ${podIdOrPrefix} not found`);
      // Checked now, not as last recorded: a pod whose infra process or namespaces are gone becomes notready and takes no container.
      const pod = this.sandboxes.refresh(recorded);
      if (pod.state !== 'ready') {
        throw wrongState(`pod sandbox ${pod.id} is not ready${recorded.state === 'ready' ? ': its infra process or namespaces are gone' : ''}`);
      }
      const store = this.images.store;
      const image = store.resolve(spec.image.name);
      if (!image) throw notFound(`image ${quoteInput(spec.image.name)} not found`);
      const layers = store.layerLowerDirs(image);
      // Checked again in the transaction that records the container (image-removal.ts).
      const confirm = (): void => {
        if (!store.get(image.id)) throw notFound(`image ${quoteInput(spec.image.name)} (${image.id}) was removed while the container was being created`);
      };
      return this.containers.create(pod, spec, { id: image.id, ref: image.repoDigests[0] ?? image.id, config: image.config, layers, confirm }, options);
    });
  }

  /** Stops watching exits and closes the databases. Pods, containers and their monitors keep running. */
  close(): void {
    this.containers.close();
    this.images.store.close();
    this.state.close();
  }
}

/**
 * Opens peapod's domain for a front end: first the modes of root, runroot
 * and everything peapod keeps below them are set (state-dirs.ts: no other
 * host user reaches them, also where they existed with wider modes), then
 * the image store under `<root>/storage`, the state database
 * `<root>/state.db`, the pods and the containers. Call `recover()` before serving.
 * @param options.owner the front end this process is (`cri` or `cli`)
 * @throws Error when root or runroot is owned by another user, or cannot be made.
 */
export function openPeapod(config: PeapodConfig, log: Logger, options: { owner: Owner }): Peapod {
  securePeapodDirs(config);
  const state = openStateDb(config.root, options.owner);
  try {
    // Required here, not at the top: the puller loads the HTTP client, which a front end that builds Peapod itself (the CLI) may never need.
    const { openImages } = require('../image-service') as typeof import('../image-service');
    return new Peapod(config, log, state, openImages(config, log));
  } catch (err) {
    state.close();
    throw err;
  }
}
