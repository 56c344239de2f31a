import type { RemovePodSandboxRequest__Output } from '../../generated/runtime/v1/RemovePodSandboxRequest';
import type { RemovePodSandboxResponse } from '../../generated/runtime/v1/RemovePodSandboxResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';

/**
 * CRI `RemovePodSandbox`: stops the sandbox first if needed, then removes
 * its namespaces (unmount and delete the pins), its files, its cgroup and
 * its record. Idempotent: an unknown ID succeeds.
 * @throws PeapodError INVALID_ARGUMENT when pod_sandbox_id is empty.
 */
export function removePodSandbox(ctx: RuntimeContext) {
  return async (req: RemovePodSandboxRequest__Output): Promise<RemovePodSandboxResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const found = ctx.sandboxes.get(req.pod_sandbox_id);
    if (found) {
      await ctx.sandboxes.remove(found.id);
      ctx.retries.forget(found.id);
    }
    return {};
  };
}
