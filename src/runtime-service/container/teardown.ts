/**
 * Unmaking a container: every path that ends one — RemoveContainer, the
 * rollback of a CreateContainer that failed, recovery's rollback of one a
 * crash cut short — undoes what creation made, in reverse order, with the
 * same steps:
 *
 *   made by                         what                                      unmade by
 *   create: the record              the row (state creating), taking the name  5. deleted last
 *   create: mkdir                   <root>/containers/<id>/ (upper, work,      5. renamed into the trash with
 *                                   persist: conmon's exit and oom files)         the row's deletion, deleted
 *                                                                                 there in the background
 *   create: mount                   the rootfs overlay in the bundle           3. unmounted (lazily if busy),
 *                                                                                 at once with 2.
 *   create: write                   <runroot>/containers/<id>/ config.json     4. removed
 *   conmon                          its pid file, ctl FIFO (in the bundle),    1. conmon killed and waited for
 *                                   <runroot>/containers-sockets/<id> (its        (found by its pid file, or by
 *                                   link to the bundle, for the attach socket)    its arguments), then the link
 *                                                                                 removed (4.)
 *   runc create (under conmon)      the runtime's state, the container's       2. `runc delete --force`, then
 *                                   processes, its cgroup                         the cgroup removed if runc
 *                                                                                 did not know it
 *   conmon, at the container's end  <runroot>/containers-exits/<id> (written   4. removed, with the temp a
 *                                   through a temp <id>.XXXXXX, then renamed)     monitor killed mid-write left
 *
 * conmon goes first: at the container's end it writes persist/exit, then the
 * exit file, then unlinks its socket link; a monitor still running while the
 * files are deleted writes them again after (or dies on the missing persist
 * directory and leaves its link: the leak of every rolled-back creation), and
 * a monitor whose `runc create` is still running would make the container
 * again after `runc delete`. Its exit status is already recorded by then (a
 * removal follows the exit; a creation has none), so nothing is lost by
 * killing it.
 *
 * RemoveContainer over the CRI takes another order (tearDownContainerInBackground):
 * 1., the row; then the socket link and exit file, 2.-5. in the background
 * (release.ts), with the writable layer last, so what a crash leaves has no
 * record and recovery removes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachSocketDir, removeExitFiles } from '../../conmon/driver';
import { mountedOver } from '../../common/host/mounts';
import { isProcessAlive, killAndWait, processesWithArgument, ProcessIdentity, processStartTime, readPid } from '../../common/host/proc';
import { removeContainerCgroup } from '../sandbox/cgroups';
import { ContainerDeps, runtimeFor } from './deps';
import { wakeExitWaiters } from './exits';
import { containerPaths } from './paths';
import type { ContainerRecord } from './record';
import { releaseContainer } from './release';
import { unmountRootfs } from './rootfs';

/** How long a monitor may take to die after SIGKILL, in ms. */
const MONITOR_KILL_WAIT_MS = 10_000;

/** conmon of a container from its pid file, when that pid is still a process naming the container. */
function monitorFromPidFile(deps: ContainerDeps, id: string): ProcessIdentity | undefined {
  const pid = readPid(containerPaths(deps.dirs, id).conmonPidFile);
  if (pid === undefined) return undefined;
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  const startTime = processStartTime(pid);
  return args.includes(id) && startTime !== undefined ? { pid, startTime } : undefined;
}

/**
 * Kills the container's monitor (and, with `search`, every process naming
 * the container among its arguments: a conmon that had not written its pid
 * file yet, the `runc create` under it) and waits until they are gone.
 * @param search scan /proc as well (a creation cut short, where the pid file may be missing)
 * @throws Error naming the processes still alive after SIGKILL.
 */
export async function stopMonitor(deps: ContainerDeps, id: string, search: boolean): Promise<void> {
  const procs = search ? await processesWithArgument(id) : [];
  const fromFile = monitorFromPidFile(deps, id);
  if (fromFile && !procs.some((p) => p.pid === fromFile.pid)) procs.push(fromFile);
  const left = await killAndWait(procs.filter(isProcessAlive), MONITOR_KILL_WAIT_MS);
  if (left.length > 0) throw new Error(`processes of container ${id} still alive after SIGKILL: ${left.map((p) => p.pid).join(', ')}`);
}

/**
 * The steps of the module doc for one container, each idempotent, so an
 * interrupted teardown is finished by the next one.
 * @param options.search look for the container's processes in /proc too (rollbacks)
 * @param options.tolerant log a failing step and go on (rollbacks: the
 *   record goes anyway); else the first failure is thrown and the record
 *   stays, so the call can be retried (removal)
 */
export async function tearDownContainer(deps: ContainerDeps, rec: ContainerRecord, options: { search: boolean; tolerant: boolean }): Promise<void> {
  const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if (!options.tolerant) throw err;
      deps.opts.log.error({ id: rec.id, err }, `${what} failed while tearing down a container`);
    }
  };
  await step('stopping its monitor', () => stopMonitor(deps, rec.id, options.search));
  // The runtime's delete and the rootfs unmount at once (two host processes,
  // independent: the container's processes are gone, and its mount
  // namespace had its own copy of the rootfs mount); both run to their end
  // before a failure of either is thrown.
  const settled = await Promise.allSettled([
    step('runtime delete', () => runtimeFor(deps, rec.runtimeHandler).delete(rec.id)).then(() => step('removing its cgroup', () => removeContainerCgroup(deps.opts.cgroupDriver, rec.cgroupsPath))),
    step('unmounting its rootfs', () => unmountRootfs(rec.rootfs)),
  ]);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  // A rootfs still mounted keeps its bundle: the next start's recovery unmounts and removes what has no record.
  // On libuv's threads, at once: a removal of an own sandbox (remove-exited.ts) runs its network's teardown meanwhile on the event loop.
  await Promise.all([
    mountedOver(rec.rootfs) ? Promise.resolve() : fs.promises.rm(rec.bundle, { recursive: true, force: true }),
    fs.promises.rm(attachSocketDir(deps.dirs.sockets, rec.id), { recursive: true, force: true }),
    removeExitFiles(deps.dirs.exits, rec.id),
  ]);
  deps.store.delete(rec.id);
  deps.layerUsage.forget(rec.id);
  wakeExitWaiters(deps, rec.id);
}

/**
 * A removal that answers before the slow steps: the monitor is stopped (a
 * failure is thrown and the record stays) and the row deleted; the socket
 * link, the exit file, the runtime's state, cgroup, rootfs, bundle
 * and writable layer are then released in the background (release.ts,
 * deps.releases), where a failure is logged and left for recovery.
 */
export async function tearDownContainerInBackground(deps: ContainerDeps, rec: ContainerRecord): Promise<void> {
  await stopMonitor(deps, rec.id, false);
  // Marked before the row goes: an image removal (any process) sees the row or the marker until the rootfs is released.
  deps.releases.mark(rec.id, rec.imageId);
  try {
    deps.store.deleteRow(rec.id);
  } catch (err) {
    deps.releases.unmark(rec.id);
    throw err;
  }
  deps.layerUsage.forget(rec.id);
  wakeExitWaiters(deps, rec.id);
  deps.releases.start(rec.id, rec.sandboxId, () => releaseContainer(deps, rec));
}
