import type { ReopenContainerLogRequest__Output } from '../../generated/runtime/v1/ReopenContainerLogRequest';
import type { ReopenContainerLogResponse } from '../../generated/runtime/v1/ReopenContainerLogResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `ReopenContainerLog`: the monitor reopens the log file (the kubelet
 * renamed the old one); returns once the new file exists.
 * @throws PeapodError NOT_FOUND; FAILED_PRECONDITION when the container is not running.
 */
export function reopenContainerLog(ctx: RuntimeContext) {
  return async (req: ReopenContainerLogRequest__Output): Promise<ReopenContainerLogResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    await ctx.containers.reopenLog(req.container_id);
    return {};
  };
}
