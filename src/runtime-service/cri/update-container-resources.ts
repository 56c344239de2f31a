import type { UpdateContainerResourcesRequest__Output } from '../../generated/runtime/v1/UpdateContainerResourcesRequest';
import type { UpdateContainerResourcesResponse } from '../../generated/runtime/v1/UpdateContainerResourcesResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';
import { resourcesOf } from './resources';

/**
 * CRI `UpdateContainerResources`: new cgroup limits for a created or running
 * container, applied with `runc update`.
 * @throws PeapodError NOT_FOUND; FAILED_PRECONDITION for an exited container.
 */
export function updateContainerResources(ctx: RuntimeContext) {
  return async (req: UpdateContainerResourcesRequest__Output): Promise<UpdateContainerResourcesResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    if (!req.linux) throw invalidArgument('linux is required');
    await ctx.containers.updateResources(req.container_id, resourcesOf(req.linux) ?? {});
    return {};
  };
}
