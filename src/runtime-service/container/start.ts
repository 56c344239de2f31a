import { internal, notFound } from '../../common/errors';
import { nowNs } from '../../common/time';
import { podNetworkReady } from '../sandbox/rootless-network';
import { ContainerDeps, runtimeFor } from './deps';
import { nextRecord } from './state';

/**
 * Starts a created container: `runtime start` runs its user process; the
 * record becomes running (see state.ts).
 * @throws NotFoundError for an unknown ID; WrongStateError when it is not
 *   created (refused before the runtime is asked); InternalError when the
 *   runtime fails.
 */
export function startContainer(deps: ContainerDeps, id: string): Promise<void> {
  return deps.locks.run(id, async () => {
    const rec = deps.store.find(id);
    if (!rec) throw notFound(`container "${id}" not found`);
    const startedAt = nowNs();
    nextRecord(rec, { type: 'started', startedAt }); // refuses early: nothing is run for a container in the wrong state
    try {
      // A rootless pod network started without waiting for it (rootless-network.ts, readinessLater) is up before the process runs.
      await podNetworkReady(rec.sandboxId);
      await runtimeFor(deps, rec.runtimeHandler).start(id, rec.pid);
    } catch (err) {
      throw internal(`starting container ${id}: ${(err as Error).message}`, { cause: err });
    }
    deps.store.transition(id, { type: 'started', startedAt });
  });
}
