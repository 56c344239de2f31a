import * as fs from 'node:fs';
import type { Logger } from '../../common/logger';
import { delNetwork } from '../cni/attachment';
import { killInfra } from './infra';
import { unmountAll, unmountEach } from '../../common/host/mounts';
import { isNamespaceFile } from './namespaces';
import { removePodCgroup } from './cgroups';
import { stopRootlessPodNetwork } from './rootless-network';
import type { SandboxPaths } from './paths';
import type { SandboxRecord } from './record';

/** What teardown needs besides the record. */
export interface TeardownDeps {
  paths: SandboxPaths;
  binDirs: string[];
  cgroupDriver: 'cgroupfs' | 'systemd';
  log: Logger;
}

/**
 * Stops what runs for a sandbox, keeping its namespaces and files:
 * CNI DEL of the cached attachment (plugins in reverse order; an empty
 * CNI_NETNS when the namespace is already gone) or, for a rootless pod, its
 * slirp4netns stopped (rootless-network.ts); the infra process killed; the
 * pod's /dev/shm unmounted (unless `options.keepShm`: a removal right after
 * unmounts it with the pins, in one host process). The three do not depend on one another (the
 * network namespace is pinned, not held by the infra process), so they run
 * at once and a stop takes as long as the slowest, the CNI plugins.
 * Every step is idempotent, so it serves StopPodSandbox (also a second
 * time) and rollback alike.
 * @throws CniPluginError when DEL fails, HostCommandError when an unmount
 *   fails (every step has run to its end first).
 */
export async function stopSandboxResources(rec: SandboxRecord, deps: TeardownDeps, options: { keepShm?: boolean } = {}): Promise<void> {
  const network = async (): Promise<void> => {
    let failure: unknown;
    try {
      await delNetwork(deps.paths.cniCacheFile, deps.binDirs, isNamespaceFile(deps.paths.netnsPin));
    } catch (err) {
      failure = err;
    }
    try {
      await stopRootlessPodNetwork(deps.paths);
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined) throw failure;
  };
  const infra = rec.infraPid !== undefined && rec.infraStartTime !== undefined ? killInfra({ pid: rec.infraPid, startTime: rec.infraStartTime }) : Promise.resolve();
  const results = await Promise.allSettled([network(), infra, options.keepShm ? Promise.resolve() : unmountAll(deps.paths.shmDir)]);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * Removes what remains of a stopped sandbox: the namespace pins (unmount and
 * delete), the run directory and, with the cgroupfs driver, the pod cgroup.
 * The record and state directory are the caller's (SandboxStore.delete).
 * Idempotent.
 * @throws HostCommandError when an unmount fails, the fs error when the
 *   cgroup cannot be removed (e.g. a process still in it).
 */
export async function removeSandboxResources(rec: SandboxRecord, deps: TeardownDeps): Promise<void> {
  const pins = [deps.paths.netnsPin, deps.paths.ipcnsPin, deps.paths.utsnsPin, deps.paths.pidnsPin];
  // The cgroup (its rmdirs off the event loop: milliseconds each on a loaded host) while the pins are unmounted:
  // nothing of the pod runs any more, and a namespace pin holds no cgroup.
  const cgroup = deps.cgroupDriver === 'cgroupfs' && rec.cgroupParent.startsWith('/') ? removePodCgroup(rec.cgroupParent) : Promise.resolve();
  // One umount for the pins and /dev/shm together (each host process costs a fork and an exec), then their files.
  const files = unmountEach([...pins, deps.paths.shmDir])
    .then(() => Promise.all(pins.map((pin) => fs.promises.rm(pin, { force: true }))))
    .then(() => fs.promises.rm(deps.paths.runDir, { recursive: true, force: true }));
  const results = await Promise.allSettled([files, cgroup]);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
