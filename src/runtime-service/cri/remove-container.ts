import type { RemoveContainerRequest__Output } from '../../generated/runtime/v1/RemoveContainerRequest';
import type { RemoveContainerResponse } from '../../generated/runtime/v1/RemoveContainerResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `RemoveContainer`: force-stops a live container, then deletes it with
 * its rootfs, bundle and record. Idempotent: an unknown ID succeeds.
 */
export function removeContainer(ctx: RuntimeContext) {
  return async (req: RemoveContainerRequest__Output): Promise<RemoveContainerResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const found = ctx.containers.find(req.container_id);
    if (!found) return {};
    // The runtime's state, cgroup, rootfs and bundle are released after the answer (container/release.ts).
    await ctx.containers.remove(found.id, { background: true });
    ctx.retries.forget(found.id);
    return {};
  };
}
