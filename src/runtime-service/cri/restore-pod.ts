import type { RestorePodRequest__Output } from '../../generated/runtime/v1/RestorePodRequest';
import type { RestorePodResponse } from '../../generated/runtime/v1/RestorePodResponse';
import { checkpointCriField, checkpointsOf } from './checkpoints';
import type { RuntimeContext } from './context';
import { mappingCriFields } from './fields';

/**
 * CRI `RestorePod`: checks that `checkpoint_path` is a pod checkpoint
 * archive (pod.dump, pod.options and each container's config.dump) and that
 * CRIU can run on this node. Recreating the pod's processes from the CRIU
 * images is not built yet (checkpoint/service.ts): where CRIU works the
 * call then fails with INTERNAL saying so.
 * @throws PeapodError INVALID_ARGUMENT for a missing, relative or
 *   unreadable checkpoint_path or an archive that is not a pod checkpoint;
 *   FAILED_PRECONDITION when CRIU cannot run here (naming what `criu check`
 *   reports).
 */
export function restorePod(ctx: RuntimeContext) {
  const checkpoints = checkpointsOf(ctx);
  return async (req: RestorePodRequest__Output): Promise<RestorePodResponse> => {
    await mappingCriFields(checkpointCriField, () => checkpoints.restore('pod', req.checkpoint_path, 'checkpoint_path'));
    return {};
  };
}
