/**
 * Removing a sandbox whose containers have all exited, with them, in less
 * time than removeSandbox's sequence (lifecycle.ts): the CLI's `run --rm`
 * removes a container and its own sandbox right after the exit, before it
 * returns (as Podman's does), so every step there is on the command's path.
 *
 *   removeSandbox (any sandbox)            this (every container exited)
 *   stop: each container stopped           -
 *   stop: CNI DEL, infra killed            CNI DEL, infra killed, then the pins   } at once
 *   each container removed, in turn        every container removed                }
 *     (monitor, runtime delete, rootfs,      (each as before: monitor killed,
 *      bundle, record)                        runtime delete with its rootfs umount)
 *   pins and /dev/shm unmounted            -  (done above, with the DEL)
 *   pod cgroup, files                      pod cgroup (after the containers'), files
 *   record                                 record
 *
 * Nothing depends across the two branches: the containers' processes are
 * gone (they exited; their monitors are killed first), so the network can go
 * while their runtime state and rootfs are released, and the pins (which
 * the DEL needs: CNI_NETNS) go right after the DEL. The pod cgroup still
 * waits for the containers' cgroups (`runc delete`). Crash safety is
 * removeSandbox's: the sandbox record goes last, each step is idempotent, a
 * failure of any step leaves the record for a retry (or recovery), after
 * both branches ran to their end.
 */
import { teardownDeps } from './create';
import { LifecycleDeps, removeSandboxLocked } from './lifecycle';
import { removeSandboxResources, stopSandboxResources } from './teardown';
import { unmountEach } from '../../common/host/mounts';

/**
 * Removes sandbox `id` and its containers under its lock (see the module
 * doc); when one of its containers has not exited, removeSandbox's
 * sequence instead (it stops them first). Idempotent; an unknown ID is a no-op.
 * @throws what a step throws (after both branches ended); the record stays so the call can be retried.
 */
export async function removeSandboxWithExitedContainers(deps: LifecycleDeps, id: string): Promise<void> {
  await deps.sandboxes.withLock(id, async () => {
    let rec = deps.sandboxes.get(id);
    if (!rec || rec.id !== id) return;
    const containers = deps.containers.list().filter((c) => c.sandboxId === id);
    if (containers.some((c) => c.state !== 'exited')) return removeSandboxLocked(deps, id);
    if (rec.state === 'ready') rec = deps.sandboxes.transition(id, { type: 'stopped' });
    const td = teardownDeps(deps.config, deps.log, id);
    const stopped = rec;
    const settled = await Promise.allSettled([
      (async () => {
        for (const c of containers) await deps.containers.remove(c.id);
        await deps.containers.released(id);
      })(),
      (async () => {
        await stopSandboxResources(stopped, td, { keepShm: true });
        await unmountEach([td.paths.netnsPin, td.paths.ipcnsPin, td.paths.utsnsPin, td.paths.pidnsPin, td.paths.shmDir]);
      })(),
    ]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    // Nothing is mounted any more: this removes the pod cgroup and the files.
    await removeSandboxResources(stopped, td);
    await deps.sandboxes.delete(id);
    deps.log.info({ sandbox: id }, 'pod sandbox removed');
  });
}
