import type { ContainerDeps } from './deps';
import { stopContainer } from './stop';
import { tearDownContainer, tearDownContainerInBackground } from './teardown';

/**
 * Removes a container: a created or running one is stopped first (SIGKILL
 * at once), then it is torn down (teardown.ts: its monitor, the runtime's
 * state, its cgroup, rootfs, bundle, socket link, exit file, writable layer
 * and, last, the record), so an interrupted removal is finished by the next
 * one. The persistent directory (the writable layer: any size) is renamed
 * into the trash and deleted in the background (ContainerStore.delete), so
 * the call never waits for a tree delete; a crash leaves it in the trash,
 * which the next start empties. Unknown containers, or one removed by a
 * racing call: nothing to do.
 *
 * With `background`, the call returns once the monitor is stopped and the
 * row deleted; the runtime's state, cgroup, rootfs and bundle are released
 * after it (release.ts), as containerd does. A long-lived server uses it;
 * a short-lived front end (the CLI) would exit before the release ends.
 * @throws what stopping or a removal step throws; the record stays so the call can be retried.
 */
export async function removeContainer(deps: ContainerDeps, id: string, options: { background?: boolean } = {}): Promise<void> {
  const found = deps.store.find(id);
  if (!found) return;
  if (found.state !== 'exited') await stopContainer(deps, found.id, 0);
  await deps.locks.run(found.id, async () => {
    const rec = deps.store.getAny(found.id);
    if (!rec) return;
    if (options.background) await tearDownContainerInBackground(deps, rec);
    else await tearDownContainer(deps, rec, { search: false, tolerant: false });
  });
}
