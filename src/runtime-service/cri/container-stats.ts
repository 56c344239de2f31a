import type { ContainerStatsRequest__Output } from '../../generated/runtime/v1/ContainerStatsRequest';
import type { ContainerStatsResponse } from '../../generated/runtime/v1/ContainerStatsResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';
import { toCriStats } from './container-view';

/**
 * CRI `ContainerStats`: cpu and memory from the container's cgroup, the
 * writable layer's bytes and inodes as last measured in the background (as
 * containerd does; zeros until the first measurement, which the first ask starts).
 * @throws PeapodError NOT_FOUND for an unknown ID.
 */
export function containerStats(ctx: RuntimeContext) {
  return async (req: ContainerStatsRequest__Output): Promise<ContainerStatsResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const rec = ctx.containers.get(req.container_id);
    return { stats: toCriStats(rec, ctx.containers.usageOf(rec)) };
  };
}
