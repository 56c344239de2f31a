import type { RemoveContainerRequest__Output } from '../../generated/runtime/v1/RemoveContainerRequest';
import type { RemoveContainerResponse } from '../../generated/runtime/v1/RemoveContainerResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `RemoveContainer`: force-stops a live container, stops its monitor and
 * deletes its record, then answers; its runtime state, cgroup, rootfs, bundle
 * and writable layer are released in the background (container/release.ts),
 * as containerd does. Idempotent: an unknown ID succeeds.
 */
export function removeContainer(ctx: RuntimeContext) {
  return async (req: RemoveContainerRequest__Output): Promise<RemoveContainerResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const found = ctx.containers.find(req.container_id);
    if (!found) return {};
    await ctx.containers.remove(found.id, { background: true });
    ctx.retries.forget(found.id);
    return {};
  };
}
