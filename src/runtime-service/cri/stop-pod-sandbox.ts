import type { StopPodSandboxRequest__Output } from '../../generated/runtime/v1/StopPodSandboxRequest';
import type { StopPodSandboxResponse } from '../../generated/runtime/v1/StopPodSandboxResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `StopPodSandbox`: stops every container of the pod, tears down its
 * network (CNI DEL), kills its infra process, unmounts its /dev/shm; the
 * sandbox becomes NOTREADY and keeps its namespaces until removal.
 * Idempotent: a second call, or an unknown ID, succeeds.
 * @throws PeapodError INVALID_ARGUMENT when pod_sandbox_id is empty; the
 *   mapped CNI error when DEL fails (the call can be retried).
 */
export function stopPodSandbox(ctx: RuntimeContext) {
  return async (req: StopPodSandboxRequest__Output): Promise<StopPodSandboxResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const found = ctx.sandboxes.get(req.pod_sandbox_id);
    if (found) await ctx.sandboxes.stop(found.id);
    return {};
  };
}
