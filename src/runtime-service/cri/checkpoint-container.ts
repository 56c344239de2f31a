import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse';
import { invalidArgument } from '../../common/errors';
import { checkpointCriField, checkpointsOf } from './checkpoints';
import type { RuntimeContext } from './context';
import { mappingCriFields } from './fields';

/**
 * CRI `CheckpointContainer` (the kubelet's forensic checkpointing,
 * KEP-2008, `POST /checkpoint/{namespace}/{pod}/{container}`): writes a
 * checkpoint archive of a running container to `location`, in CRI-O's
 * layout, and leaves the container running (checkpoint/service.ts).
 * `timeout` (seconds) is checked; the dump itself is bounded at 10 minutes.
 * @throws PeapodError INVALID_ARGUMENT for an empty container_id, a
 *   negative timeout or a bad location; NOT_FOUND; FAILED_PRECONDITION when
 *   the container is not running or CRIU cannot run on this node (the
 *   message says what `criu check` reports).
 */
export function checkpointContainer(ctx: RuntimeContext) {
  const checkpoints = checkpointsOf(ctx);
  return async (req: CheckpointContainerRequest__Output): Promise<CheckpointContainerResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const timeout = Number(req.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) throw invalidArgument('timeout must be a non-negative number of seconds');
    await mappingCriFields(checkpointCriField, () => checkpoints.checkpointContainer(req.container_id, req.location));
    return {};
  };
}
