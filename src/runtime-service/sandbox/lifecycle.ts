import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { teardownDeps } from './create';
import { isProcessAlive } from '../../common/host/proc';
import { isNamespaceFile } from './namespaces';
import type { ContainerEngine } from '../container/engine';
import type { SandboxRecord } from './record';
import type { SandboxStore } from './store';
import { removeSandboxResources, stopSandboxResources } from './teardown';

/** What the sandbox lifecycle needs from the runtime context. */
export interface LifecycleDeps {
  config: PeapodConfig;
  log: Logger;
  sandboxes: SandboxStore;
  /** The pod's containers are stopped and removed with it. */
  containers: ContainerEngine;
}

/**
 * Stops sandbox `id` under its lock: NOTREADY on disk first (so a crash in
 * the middle is retried by the next Stop), then every container of the pod
 * (SIGKILL at once: whoever stops a pod has given its containers their
 * grace already), then CNI DEL, infra kill and /dev/shm unmount. Idempotent;
 * an ID not (or no longer) known is a no-op.
 * @throws CniPluginError when DEL fails.
 */
export async function stopSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, () => stopLocked(deps, id));
}

async function stopLocked(deps: LifecycleDeps, id: string): Promise<SandboxRecord | undefined> {
  let rec = deps.sandboxes.get(id);
  if (!rec || rec.id !== id) return undefined;
  if (rec.state === 'ready') rec = deps.sandboxes.transition(id, { type: 'stopped' });
  for (const c of deps.containers.list().filter((r) => r.sandboxId === id)) await deps.containers.stop(c.id, 0);
  await stopSandboxResources(rec, teardownDeps(deps.config, deps.log, id));
  deps.log.info({ sandbox: id }, 'pod sandbox stopped');
  return rec;
}

/**
 * Removes sandbox `id` under its lock: a forced stop, every container of the
 * pod, then namespaces, run directory, cgroup, files and record.
 * Idempotent; an ID not known is a no-op.
 * @throws what the stop or a removal step throws; the record stays so the
 *   call can be retried.
 */
export async function removeSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, async () => {
    const rec = await stopLocked(deps, id);
    if (!rec) return;
    for (const c of deps.containers.list().filter((r) => r.sandboxId === id)) await deps.containers.remove(c.id);
    await removeSandboxResources(rec, teardownDeps(deps.config, deps.log, id));
    deps.sandboxes.delete(id);
    deps.log.info({ sandbox: id }, 'pod sandbox removed');
  });
}

/**
 * True when everything a ready sandbox needs is still there: its namespace
 * pins are namespace files, its infra process runs (the same pid and start
 * time: a pid reused by another process is not it).
 */
export function sandboxAlive(r: SandboxRecord): boolean {
  for (const key of ['network', 'ipc', 'uts', 'pid'] as const) {
    const p = r.namespaces[key];
    if (p && !isNamespaceFile(p)) return false;
  }
  if (r.infraPid !== undefined) {
    if (r.infraStartTime === undefined || !isProcessAlive({ pid: r.infraPid, startTime: r.infraStartTime })) return false;
  }
  return true;
}

/**
 * Marks a ready sandbox notready (the `lost` transition) when its namespaces
 * or infra process are gone, e.g. a pin unmounted or the infra process
 * killed behind peapod's back, so the kubelet sees it and makes a new one.
 * Cheap (a statfs per namespace, a /proc read): Status and List call it.
 * @returns the record after the check.
 */
export function refreshSandboxState(deps: LifecycleDeps, rec: SandboxRecord): SandboxRecord {
  if (rec.state === 'ready' && !sandboxAlive(rec)) {
    deps.log.warn({ sandbox: rec.id }, 'sandbox lost its namespaces or infra process; now NOTREADY');
    return deps.sandboxes.transition(rec.id, { type: 'lost' });
  }
  return rec;
}
