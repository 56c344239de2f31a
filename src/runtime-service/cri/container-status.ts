import type { ContainerStatusRequest__Output } from '../../generated/runtime/v1/ContainerStatusRequest';
import type { ContainerStatusResponse } from '../../generated/runtime/v1/ContainerStatusResponse';
import { invalidArgument } from '../../common/errors';
import type { RuntimeContext } from './context';
import { toCriStatus } from './container-view';

/**
 * CRI `ContainerStatus`: state, times (ns), exit code, reason, image,
 * mounts, log path, resources. With `verbose`, `info["info"]` is JSON with
 * the pid, the sandbox ID and the OCI runtime spec.
 * @throws PeapodError NOT_FOUND for an unknown ID.
 */
export function containerStatus(ctx: RuntimeContext) {
  return async (req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const rec = await ctx.containers.refresh(req.container_id);
    const response: ContainerStatusResponse = { status: toCriStatus(rec) };
    if (req.verbose) {
      response.info = {
        info: JSON.stringify({
          sandboxID: rec.sandboxId,
          pid: rec.pid,
          runtimeHandler: rec.runtimeHandler,
          bundle: rec.bundle,
          rootfs: rec.rootfs,
          cgroupsPath: rec.cgroupsPath,
          runtimeSpec: ctx.containers.spec(rec.id) ?? null,
        }),
      };
    }
    return response;
  };
}
