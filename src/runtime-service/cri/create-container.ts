import type { CreateContainerRequest__Output } from '../../generated/runtime/v1/CreateContainerRequest';
import type { CreateContainerResponse } from '../../generated/runtime/v1/CreateContainerResponse';
import { invalidArgument, notFound } from '../../common/errors';
import type { CallContext } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { containerSpecOf } from './container-config';
import { mappingCriFields } from './fields';

/**
 * CRI `CreateContainer`: translates the config into peapod's ContainerSpec
 * (container-config.ts), resolves the sandbox and the image, then has the
 * container engine mount the rootfs, write the OCI bundle and create the
 * container under conmon (state CONTAINER_CREATED). Errors about a field
 * of the spec name the CRI field it came from. A container finished
 * after its caller's deadline is handed to the kubelet's retry.
 * @throws PeapodError INVALID_ARGUMENT for missing fields; NOT_FOUND for an
 *   unknown sandbox or image; ALREADY_EXISTS for a name taken in the pod;
 *   FAILED_PRECONDITION when the sandbox is not ready.
 */
export function createContainer(ctx: RuntimeContext) {
  return async (req: CreateContainerRequest__Output, call: CallContext): Promise<CreateContainerResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    if (!req.config) throw invalidArgument('config is required');
    if (!req.config.metadata?.name) throw invalidArgument('config.metadata.name is required');
    const imageName = req.config.image?.image;
    if (!imageName) throw invalidArgument('config.image.image is required');
    const found = ctx.sandboxes.get(req.pod_sandbox_id);
    if (!found) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    const { spec, criPath } = containerSpecOf(req.config, found);
    return ctx.sandboxes.withLock(found.id, () =>
      mappingCriFields(criPath, async () => {
        const sandbox = ctx.sandboxes.get(found.id);
        if (!sandbox) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
        const image = ctx.images.resolve(imageName);
        if (!image) throw notFound(`image "${imageName}" not found`);
        const rec = await ctx.containers.create(
          sandbox,
          spec,
          { id: image.id, ref: image.repoDigests[0] ?? image.id, config: image.config, layers: ctx.images.layerLowerDirs(image) },
          { abandoned: () => call.cancelled },
        );
        return { container_id: rec.id };
      }),
    );
  };
}
