import type { PodSandboxStatsRequest__Output } from '../../generated/runtime/v1/PodSandboxStatsRequest';
import type { PodSandboxStatsResponse } from '../../generated/runtime/v1/PodSandboxStatsResponse';
import { invalidArgument, notFound } from '../../common/errors';
import type { RuntimeContext } from './context';
import { podSandboxStatsOf } from './pod-sandbox-stats-view';

/**
 * CRI `PodSandboxStats`: the sum of the pod's containers' cpu and memory,
 * the pod's network interfaces, and each container's stats.
 * @throws PeapodError NOT_FOUND for an unknown sandbox.
 */
export function podSandboxStats(ctx: RuntimeContext) {
  return async (req: PodSandboxStatsRequest__Output): Promise<PodSandboxStatsResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const sb = ctx.sandboxes.get(req.pod_sandbox_id);
    if (!sb) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    return { stats: await podSandboxStatsOf(ctx, sb) };
  };
}
