import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { ContainerEngine } from '../container/engine';
import { createSandbox } from './create';
import { ensureSandboxNetwork, refreshSandboxState, removeSandbox, startSandbox, stopSandbox } from './lifecycle';
import { SandboxLivenessCache } from './liveness-cache';
import { recoverSandboxes } from './recover';
import { removeSandboxWithExitedContainers } from './remove-exited';
import type { SandboxRecord } from './record';
import type { SandboxSpec } from './spec';
import type { SandboxStore } from './store';

/**
 * How long a list trusts a ready pod's last passed liveness check, in ms:
 * the kubelet's relist period (its PLEG relists every second).
 */
export const LIST_LIVENESS_MAX_AGE_MS = 1000;

/**
 * The pod sandboxes, for every front end: one object over the record store
 * and the verbs (create.ts, lifecycle.ts). Stopping a pod stops its
 * containers and removing it removes them: explicit calls into the
 * container engine it is given, no hooks. States are drawn in state.ts.
 */
export class Sandboxes {
  private readonly liveness = new SandboxLivenessCache<SandboxRecord>(LIST_LIVENESS_MAX_AGE_MS);

  /**
   * @param deps the configuration, the logger, this front end's record store and the containers
   */
  constructor(private readonly deps: { config: PeapodConfig; log: Logger; sandboxes: SandboxStore; containers: ContainerEngine }) {}

  /** The record store (lookups, locks). */
  get store(): SandboxStore {
    return this.deps.sandboxes;
  }

  /**
   * Builds a pod sandbox from its spec (create.ts).
   * @param options.runtimeHandler the runtime handler of its containers ('' or absent: the default)
   * @param options.request the front end's request as received, kept for its status reports
   * @throws NotFoundError for a runtime handler that is not configured; see createSandbox for the rest.
   */
  create(spec: SandboxSpec, options: { runtimeHandler?: string; request?: unknown } = {}): Promise<SandboxRecord> {
    return createSandbox({ config: this.deps.config, log: this.deps.log, store: this.deps.sandboxes }, spec, options.runtimeHandler ?? '', options.request ?? null);
  }

  /** Stops a sandbox and its containers (lifecycle.ts); unknown IDs are a no-op. */
  stop(id: string): Promise<void> {
    return stopSandbox(this.deps, id);
  }

  /**
   * Starts a stopped sandbox again, without its containers (lifecycle.ts); a ready one is left as it is.
   * @throws NotFoundError for an unknown ID; see startSandbox for the rest.
   */
  start(id: string): Promise<SandboxRecord> {
    return startSandbox(this.deps, id);
  }

  /**
   * Before a container of sandbox `id` starts: a rootless pod's slirp4netns that has exited is started again (lifecycle.ts).
   * @throws Slirp4netnsError naming it when it cannot be.
   */
  ensureNetwork(id: string): Promise<void> {
    return ensureSandboxNetwork(this.deps, id);
  }

  /** Removes a sandbox and its containers (lifecycle.ts); unknown IDs are a no-op. */
  remove(id: string): Promise<void> {
    return removeSandbox(this.deps, id);
  }

  /**
   * As remove, faster for a sandbox whose containers have all exited (the
   * CLI's `run --rm`): the network and pins go while the containers are
   * removed (remove-exited.ts); otherwise remove's sequence.
   */
  removeWithExitedContainers(id: string): Promise<void> {
    return removeSandboxWithExitedContainers(this.deps, id);
  }

  /** A finished sandbox of this front end by full ID or unique prefix. */
  get(idOrPrefix: string): SandboxRecord | undefined {
    return this.deps.sandboxes.get(idOrPrefix);
  }

  /** As `get`, the store's shared, frozen record: the same object while the state database is unchanged (SandboxStore.getShared). */
  getShared(idOrPrefix: string): SandboxRecord | undefined {
    return this.deps.sandboxes.getShared(idOrPrefix);
  }

  /** This front end's finished sandboxes, oldest first. */
  list(): SandboxRecord[] {
    return this.deps.sandboxes.list();
  }

  /** The record after checking that a ready sandbox still has its namespaces and infra process (lifecycle.ts). */
  refresh(rec: SandboxRecord): SandboxRecord {
    return refreshSandboxState(this.deps, rec);
  }

  /**
   * As refresh, for lists: a check this record passed less than
   * LIST_LIVENESS_MAX_AGE_MS ago is trusted (liveness-cache.ts), so a lost
   * pod shows NOTREADY in a list at most that much later.
   */
  refreshForList(rec: SandboxRecord): SandboxRecord {
    return refreshSandboxState(this.deps, rec, this.liveness);
  }

  /** Runs `fn` under the sandbox's lock (in this process and across processes). */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.deps.sandboxes.withLock(id, fn);
  }

  /** Start-up recovery of this front end's sandboxes (recover.ts). */
  recover(): Promise<void> {
    return recoverSandboxes(this.deps);
  }
}
