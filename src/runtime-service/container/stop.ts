import { internal } from '../../common/errors';
import { ContainerDeps, runtimeFor } from './deps';
import { applyExit, waitExit } from './exits';
import type { OciRuntime } from '../oci/runc';

/** How long to wait for a container to die after SIGKILL, in ms. */
const KILL_WAIT_MS = 30_000;

/**
 * Stops a container: sends its stop signal (the image's StopSignal, default
 * SIGTERM), waits up to `timeoutSec`, then SIGKILLs every process of the
 * container (its init alone when rootless without a cgroup). Timeout 0 kills at once; a created container that never ran is
 * killed at once. Unknown or exited containers: nothing to do. The record
 * becomes exited when conmon's exit file appears (exits.ts).
 *
 * Stops and removals of one container may race (a kubelet and an operator
 * send them): a container removed while this stop waits, or whose runtime
 * state a removal deleted under a `kill`, has ended, and the stop succeeds.
 * @throws InternalError when the container is still there 30 s after SIGKILL.
 */
export async function stopContainer(deps: ContainerDeps, id: string, timeoutSec: number): Promise<void> {
  const rec = deps.store.find(id);
  if (!rec || rec.state === 'exited') return;
  if (await applyExit(deps, rec.id)) return;
  const runtime = runtimeFor(deps, rec.runtimeHandler);
  if (timeoutSec > 0 && rec.state === 'running') {
    if (!(await signal(deps, runtime, rec.id, rec.stopSignal, false))) return;
    if (await waitExit(deps, rec.id, timeoutSec * 1000)) return;
  }
  // Every process of its cgroup; a rootless container without a cgroup has
  // none to list (runc refuses --all), so its init, which takes its PID namespace with it.
  if (!(await signal(deps, runtime, rec.id, 'SIGKILL', deps.host.rootless?.kind !== 'none'))) return;
  if (await waitExit(deps, rec.id, KILL_WAIT_MS)) return;
  throw internal(`container ${rec.id} did not exit after SIGKILL`);
}

/**
 * `runtime kill`; a failure is no failure when the container ended or was
 * removed meanwhile (a racing stop or removal).
 * @returns false when the container has ended (nothing left to wait for).
 * @throws the runtime's error when the container is still there.
 */
async function signal(deps: ContainerDeps, runtime: OciRuntime, id: string, sig: string, all: boolean): Promise<boolean> {
  try {
    await runtime.kill(id, sig, all);
    return true;
  } catch (err) {
    if (await waitExit(deps, id, 0)) return false;
    throw err;
  }
}
