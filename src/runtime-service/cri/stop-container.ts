import type { StopContainerRequest__Output } from '../../generated/runtime/v1/StopContainerRequest';
import type { StopContainerResponse } from '../../generated/runtime/v1/StopContainerResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `StopContainer`: the stop signal, `timeout` seconds of grace, then
 * SIGKILL (timeout 0: SIGKILL at once). Idempotent: an exited or unknown
 * container is not an error.
 */
export function stopContainer(ctx: RuntimeContext) {
  return async (req: StopContainerRequest__Output): Promise<StopContainerResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const timeout = Number(req.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) throw invalidArgument('timeout must be a non-negative number of seconds');
    await ctx.containers.stop(req.container_id, timeout);
    return {};
  };
}
