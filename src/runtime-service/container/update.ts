import { internal, notFound } from '../../common/errors';
import { ociResources } from '../oci/spec';
import { ContainerDeps, runtimeFor } from './deps';
import type { ContainerResources } from './spec';
import { checkContainerResources } from './resource-bounds';
import { nextRecord } from './state';

/**
 * Applies new cgroup limits to a created or running container with
 * `runtime update` and records them (the `resources` transition).
 * @throws NotFoundError; WrongStateError when it is exited (refused before
 *   the runtime is asked); InternalError when the runtime fails.
 */
export function updateResources(deps: ContainerDeps, id: string, resources: ContainerResources): Promise<void> {
  return deps.locks.run(id, async () => {
    checkContainerResources(resources);
    const rec = deps.store.find(id);
    if (!rec) throw notFound(`container "${id}" not found`);
    nextRecord(rec, { type: 'resources', resources });
    try {
      await runtimeFor(deps, rec.runtimeHandler).update(id, ociResources(resources, deps.host.cgroupV2, deps.host.swapControl));
    } catch (err) {
      throw internal(`updating resources of container ${id}: ${(err as Error).message}`, { cause: err });
    }
    deps.store.transition(id, { type: 'resources', resources });
  });
}
