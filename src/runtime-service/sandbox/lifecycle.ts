import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { rollBackSandbox, teardownDeps } from './create';
import { isProcessAlive } from '../../common/host/proc';
import { isNamespaceFile } from './namespaces';
import type { SandboxStore, StoredSandbox } from './store';
import { removeSandboxResources, stopSandboxResources } from './teardown';

/** What the sandbox lifecycle needs from the runtime context. */
export interface LifecycleDeps {
  config: PeapodConfig;
  log: Logger;
  sandboxes: SandboxStore;
}

/**
 * Stops sandbox `id` under its lock: NOTREADY on disk first (so a crash in
 * the middle is retried by the next Stop), then the stop-containers hook,
 * then CNI DEL, infra kill and /dev/shm unmount. Idempotent; an ID not (or no
 * longer) known is a no-op.
 * @throws CniPluginError when DEL fails.
 */
export async function stopSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, () => stopLocked(deps, id));
}

async function stopLocked(deps: LifecycleDeps, id: string): Promise<StoredSandbox | undefined> {
  const stored = deps.sandboxes.getStored(id);
  if (!stored || stored.record.id !== id) return undefined;
  if (stored.record.state !== 'SANDBOX_NOTREADY') {
    stored.record.state = 'SANDBOX_NOTREADY';
    deps.sandboxes.save(stored);
  }
  await deps.sandboxes.stopContainersOfSandbox(stored.record);
  await stopSandboxResources(stored, teardownDeps(deps.config, deps.log, id));
  deps.log.info({ sandbox: id }, 'pod sandbox stopped');
  return stored;
}

/**
 * Removes sandbox `id` under its lock: a forced stop, the remove-containers
 * hook, then namespaces, run directory, cgroup, files and record.
 * Idempotent; an ID not known is a no-op.
 * @throws what the stop or a removal step throws; the record stays so the
 *   call can be retried.
 */
export async function removeSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, async () => {
    const stored = await stopLocked(deps, id);
    if (!stored) return;
    await deps.sandboxes.removeContainersOfSandbox(stored.record);
    await removeSandboxResources(stored, teardownDeps(deps.config, deps.log, id));
    deps.sandboxes.delete(id);
    deps.sandboxes.runs.forget(id);
    deps.log.info({ sandbox: id }, 'pod sandbox removed');
  });
}

/**
 * True when everything a READY sandbox needs is still there: its namespace
 * pins are namespace files, its infra process runs.
 */
export function sandboxAlive(stored: StoredSandbox): boolean {
  const r = stored.record;
  for (const key of ['network', 'ipc', 'uts'] as const) {
    const p = r.namespaces[key];
    if (p && !isNamespaceFile(p)) return false;
  }
  if (r.infraPid !== undefined) {
    if (stored.infraStartTime === undefined || !isProcessAlive({ pid: r.infraPid, startTime: stored.infraStartTime })) return false;
  }
  return true;
}

/**
 * Marks a READY sandbox NOTREADY (in memory and on disk) when its namespaces
 * or infra process are gone, e.g. a pin unmounted or the infra process
 * killed behind peapod's back, so the kubelet sees it and makes a new one.
 * Cheap (a statfs per namespace, a /proc read): Status and List call it.
 * @returns the record's state after the check.
 */
export function refreshSandboxState(deps: LifecycleDeps, stored: StoredSandbox): StoredSandbox['record']['state'] {
  if (stored.record.state === 'SANDBOX_READY' && !sandboxAlive(stored)) {
    deps.log.warn({ sandbox: stored.record.id }, 'sandbox lost its namespaces or infra process; now NOTREADY');
    stored.record.state = 'SANDBOX_NOTREADY';
    deps.sandboxes.save(stored);
  }
  return stored.record.state;
}

/**
 * Start-up recovery: loads every record; rolls back sandboxes a crash left
 * half-built (`creating`); marks NOTREADY the READY ones whose namespace pins
 * or infra process are gone (e.g. after a reboot emptied the runroot).
 */
export async function recoverSandboxes(deps: LifecycleDeps): Promise<void> {
  const { creating, created, broken } = deps.sandboxes.load();
  for (const file of broken) deps.log.error({ file }, 'unreadable sandbox record skipped');
  for (const stored of creating) {
    deps.log.warn({ sandbox: stored.record.id }, 'rolling back a sandbox left half-built by a crash');
    await rollBackSandbox(stored, teardownDeps(deps.config, deps.log, stored.record.id), deps.sandboxes);
  }
  for (const stored of created) refreshSandboxState(deps, stored);
  deps.log.info({ sandboxes: created.length, rolledBack: creating.length }, 'sandboxes recovered');
}
