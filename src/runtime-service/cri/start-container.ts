import type { StartContainerRequest__Output } from '../../generated/runtime/v1/StartContainerRequest';
import type { StartContainerResponse } from '../../generated/runtime/v1/StartContainerResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `StartContainer`: runs the user process of a created container.
 * @throws PeapodError NOT_FOUND for an unknown ID; FAILED_PRECONDITION when it is not CONTAINER_CREATED.
 */
export function startContainer(ctx: RuntimeContext) {
  return async (req: StartContainerRequest__Output): Promise<StartContainerResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    await ctx.containers.start(req.container_id);
    return {};
  };
}
