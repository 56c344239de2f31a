import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { notFound, wrongState } from '../../common/errors';
import { findNetworkConf } from '../cni/network-config';
import { setUpSandbox, teardownDeps } from './create';
import { sandboxAlive } from './alive';
import { sandboxPaths } from './paths';
import { restartRootlessPodNetwork, rootlessPodNetworkDown } from './rootless-network';
import type { SandboxLivenessCache } from './liveness-cache';
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
 * Stops sandbox `id` under its lock: every container of the pod first
 * (SIGKILL at once: whoever stops a pod has given its containers their
 * grace already), then NOTREADY on disk (so a crash in the teardown that
 * follows is retried by the next Stop), then CNI DEL, infra kill and
 * /dev/shm unmount. Idempotent; an ID not (or no longer) known is a no-op.
 * @throws CniPluginError when DEL fails.
 */
export async function stopSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, () => stopLocked(deps, id));
}

/** @param keepShm leave /dev/shm mounted for the removal that follows (removeSandboxResources unmounts it with the pins) */
async function stopLocked(deps: LifecycleDeps, id: string, keepShm = false): Promise<SandboxRecord | undefined> {
  let rec = deps.sandboxes.get(id);
  if (!rec || rec.id !== id) return undefined;
  // Its containers first, then the pod notready, as containerd's stopPodSandbox: their STOPPED events come
  // before the pod's. The pod's lock keeps CreateContainer out meanwhile (it takes the lock), and a crash
  // before the transition leaves a ready pod that the next Stop stops again (each step is idempotent).
  for (const c of deps.containers.list().filter((r) => r.sandboxId === id)) await deps.containers.stop(c.id, 0);
  if (rec.state === 'ready') rec = deps.sandboxes.transition(id, { type: 'stopped' });
  await stopSandboxResources(rec, teardownDeps(deps.config, deps.log, id), { keepShm });
  deps.log.info({ sandbox: id }, 'pod sandbox stopped');
  return rec;
}

/**
 * Starts a stopped (notready) sandbox again, under its lock, as a front
 * end's restart does (the CLI's `pod start`; the kubelet never does it, it
 * makes a new pod): the same set-up as at creation from the record's
 * `setup` (create.ts setUpSandbox: namespaces made again only when gone,
 * /dev/shm, CNI ADD on the network it was created with, a new infra
 * process, the /etc files), then ready. Its containers are not started
 * (that is the front end's call). A ready sandbox is returned as it is.
 * A failure tears down what the start set up (CNI DEL, infra, /dev/shm)
 * and leaves the sandbox notready. A ready rootless pod whose slirp4netns
 * has exited gets a new one (ensureSandboxNetwork).
 * @returns the record, ready.
 * @throws NotFoundError for an unknown ID; WrongStateError for a sandbox
 *   made by an older peapod (no setup recorded), or when its CNI directory
 *   has no network; what a set-up step throws.
 */
export async function startSandbox(deps: LifecycleDeps, id: string): Promise<SandboxRecord> {
  return deps.sandboxes.withLock(id, async () => {
    const rec = deps.sandboxes.get(id);
    if (!rec || rec.id !== id) throw notFound(`pod sandbox ${id} not found`);
    if (rec.state === 'ready') {
      await restartNetworkLocked(deps, rec);
      return rec;
    }
    if (!rec.setup) throw wrongState(`pod sandbox ${id} was made by an older peapod and cannot be started again: remove it and make a new one`);
    const setup = rec.setup;
    let netConf = setup.cniNetwork ?? undefined;
    if (!rec.hostNetwork && setup.cniNetwork === undefined) {
      const found = findNetworkConf(deps.config.network.cni_conf_dir);
      if (!found.ok) throw wrongState(`network plugin not ready: ${found.reason}`);
      netConf = found.conf;
    }
    try {
      const ready = await setUpSandbox({ config: deps.config, log: deps.log, store: deps.sandboxes }, rec, setup, netConf);
      deps.log.info({ sandbox: id, ip: ready.ip }, 'pod sandbox started again');
      return ready;
    } catch (err) {
      deps.log.warn({ err, sandbox: id }, 'starting the pod sandbox again failed; tearing down what was set up');
      await stopSandboxResources(deps.sandboxes.get(id) ?? rec, teardownDeps(deps.config, deps.log, id)).catch((e: unknown) =>
        deps.log.error({ err: e, sandbox: id }, 'tearing down a failed start again failed'),
      );
      throw err;
    }
  });
}

/**
 * Before a container of ready sandbox `id` starts: a rootless pod's
 * slirp4netns that has exited since the pod was made (rootless-network.ts)
 * is started again, under the pod's lock, with its published ports. Costs
 * one read of the slirp4netns record and of /proc when there is one, nothing
 * for a network this process is still starting; other pods are left as they are.
 * @throws Slirp4netnsError naming slirp4netns and the pod when it cannot be started again.
 */
export async function ensureSandboxNetwork(deps: LifecycleDeps, id: string): Promise<void> {
  if (!rootlessPodNetworkDown(sandboxPaths(deps.config, id), id)) return;
  await deps.sandboxes.withLock(id, async () => {
    const rec = deps.sandboxes.get(id);
    if (rec && rec.id === id && rec.state === 'ready') await restartNetworkLocked(deps, rec);
  });
}

/** ensureSandboxNetwork's work, under the pod's lock. */
async function restartNetworkLocked(deps: LifecycleDeps, rec: SandboxRecord): Promise<void> {
  if (await restartRootlessPodNetwork(sandboxPaths(deps.config, rec.id), deps.config.runroot, rec.id, rec.portMappings ?? [])) {
    deps.log.warn({ sandbox: rec.id }, 'the pod network (slirp4netns) had exited: started again');
  }
}

/**
 * Removes sandbox `id` under its lock: a forced stop, every container of the
 * pod, then namespaces, run directory, cgroup, files and record.
 * Idempotent; an ID not known is a no-op.
 * @throws what the stop or a removal step throws; the record stays so the
 *   call can be retried.
 */
export async function removeSandbox(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, () => removeSandboxLocked(deps, id));
}

/** removeSandbox's steps, for a caller holding the sandbox's lock. */
export async function removeSandboxLocked(deps: LifecycleDeps, id: string): Promise<void> {
  const rec = await stopLocked(deps, id, true);
  if (!rec) return;
  for (const c of deps.containers.list().filter((r) => r.sandboxId === id)) await deps.containers.remove(c.id);
  // Containers removed earlier by RemoveContainer may still be releasing their cgroups and mounts (container/release.ts).
  await deps.containers.released(id);
  await removeSandboxResources(rec, teardownDeps(deps.config, deps.log, id));
  await deps.sandboxes.delete(id);
  deps.log.info({ sandbox: id }, 'pod sandbox removed');
}

/**
 * Marks a ready sandbox notready (the `lost` transition) when its namespaces
 * or infra process are gone, e.g. a pin unmounted or the infra process
 * killed behind peapod's back, so the kubelet sees it and makes a new one.
 * A statfs per namespace and a /proc read: Status and CreateContainer call
 * it as it is; List passes `liveness`, which trusts a check passed recently
 * (liveness-cache.ts).
 * @param liveness when given, a passed check younger than its bound is not repeated
 * @returns the record after the check.
 */
export function refreshSandboxState(deps: LifecycleDeps, rec: SandboxRecord, liveness?: SandboxLivenessCache<SandboxRecord>): SandboxRecord {
  if (rec.state === 'ready' && !(liveness ? liveness.alive(rec, sandboxAlive) : sandboxAlive(rec))) {
    deps.log.warn({ sandbox: rec.id }, 'sandbox lost its namespaces or infra process; now NOTREADY');
    return deps.sandboxes.transition(rec.id, { type: 'lost' });
  }
  return rec;
}
