import type { ListContainerStatsRequest__Output } from '../../generated/runtime/v1/ListContainerStatsRequest';
import type { ListContainerStatsResponse } from '../../generated/runtime/v1/ListContainerStatsResponse';
import type { RuntimeContext } from './context';
import { filterContainers, toCriStats } from './container-view';

/** CRI `ListContainerStats` (writable layers as last measured in the background), filtered by id, pod_sandbox_id (full or unique prefix) and label_selector. */
export function listContainerStats(ctx: RuntimeContext) {
  return async (req: ListContainerStatsRequest__Output): Promise<ListContainerStatsResponse> => {
    return { stats: filterContainers(ctx, req.filter).map((r) => toCriStats(r, ctx.containers.usageOf(r))) };
  };
}
