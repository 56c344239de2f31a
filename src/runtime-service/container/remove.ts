import * as fs from 'node:fs';
import * as path from 'node:path';
import { exitFilePath } from '../../conmon/driver';
import { ContainerDeps, runtimeFor } from './deps';
import { unmountRootfs } from './rootfs';
import { stopContainer } from './stop';

/**
 * Removes a container: a created or running one is stopped first (SIGKILL
 * at once), then it is deleted from the runtime, its rootfs unmounted and
 * its bundle, sockets, exit file, writable layer and record deleted — the
 * files first and the record last, so an interrupted removal is finished by
 * the next one. The persistent directory (the writable layer: any size) is
 * renamed into the trash and deleted in the background, so the call never
 * waits for a tree delete; a crash leaves it in the trash, which the next
 * start empties. Unknown containers: nothing to do.
 * @throws what stopping or a removal step throws; the record stays so the call can be retried.
 */
export async function removeContainer(deps: ContainerDeps, id: string): Promise<void> {
  const found = deps.store.find(id);
  if (!found) return;
  if (found.state !== 'exited') await stopContainer(deps, found.id, 0);
  await deps.locks.run(found.id, async () => {
    const rec = deps.store.getAny(found.id);
    if (!rec) return;
    await runtimeFor(deps, rec.runtimeHandler).delete(rec.id);
    await unmountRootfs(rec.rootfs);
    fs.rmSync(rec.bundle, { recursive: true, force: true });
    fs.rmSync(path.join(deps.dirs.sockets, rec.id), { recursive: true, force: true });
    fs.rmSync(exitFilePath(deps.dirs.exits, rec.id), { force: true });
    deps.store.delete(rec.id);
    deps.layerUsage.forget(rec.id);
  });
}
