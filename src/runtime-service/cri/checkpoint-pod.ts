import type { CheckpointPodRequest__Output } from '../../generated/runtime/v1/CheckpointPodRequest';
import type { CheckpointPodResponse } from '../../generated/runtime/v1/CheckpointPodResponse';
import { invalidArgument } from '../../common/errors';
import { checkpointCriField, checkpointsOf } from './checkpoints';
import type { RuntimeContext } from './context';
import { mappingCriFields } from './fields';

/**
 * CRI `CheckpointPod`: one checkpoint archive of a pod's running containers
 * (or of `container_ids`) at `output_path`, in CRI-O's pod layout (pod.dump,
 * pod.options, a directory per container); the containers keep running.
 * `options` are accepted and not used.
 * @throws PeapodError INVALID_ARGUMENT for an empty pod_sandbox_id or a bad
 *   output_path or container_ids; NOT_FOUND; FAILED_PRECONDITION when a
 *   container is not running, the pod has none, or CRIU cannot run here.
 */
export function checkpointPod(ctx: RuntimeContext) {
  const checkpoints = checkpointsOf(ctx);
  return async (req: CheckpointPodRequest__Output): Promise<CheckpointPodResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    await mappingCriFields(checkpointCriField, () => checkpoints.checkpointPod(req.pod_sandbox_id, req.output_path, req.container_ids));
    return {};
  };
}
