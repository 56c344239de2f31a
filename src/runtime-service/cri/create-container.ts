import type { CreateContainerRequest__Output } from '../../generated/runtime/v1/CreateContainerRequest';
import type { CreateContainerResponse } from '../../generated/runtime/v1/CreateContainerResponse';
import { invalidArgument, notFound } from '../../common/errors';
import { canonicalJson } from '../../server/retry-store';
import type { CallContext } from '../../server/rpc';
import { containerNameKey } from '../container/store';
import type { RuntimeContext } from './context';
import { containerSpecOf } from './container-config';
import { mappingCriFields } from './fields';

/**
 * CRI `CreateContainer`: translates the config into peapod's ContainerSpec
 * (container-config.ts) and has the domain create the container in the pod
 * (Peapod.createContainer: the pod ready, the image in the store, the rootfs
 * mounted, the OCI bundle written, `runc create` under conmon; state
 * CONTAINER_CREATED). Errors about a field of the spec name the CRI field it
 * came from. A container finished after its caller's deadline is handed to
 * the kubelet's retry (src/server/retry-store.ts), once.
 * @throws PeapodError INVALID_ARGUMENT for missing fields; NOT_FOUND for an
 *   unknown sandbox or image; ALREADY_EXISTS for a name taken in the pod;
 *   FAILED_PRECONDITION when the sandbox is not ready.
 */
export function createContainer(ctx: RuntimeContext) {
  return async (req: CreateContainerRequest__Output, call: CallContext): Promise<CreateContainerResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    if (!req.config) throw invalidArgument('config is required');
    if (!req.config.metadata?.name) throw invalidArgument('config.metadata.name is required');
    if (!req.config.image?.image) throw invalidArgument('config.image.image is required');
    const pod = ctx.sandboxes.get(req.pod_sandbox_id);
    if (!pod) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    const { spec, criPath } = containerSpecOf(req.config, pod);
    const { id, how } = await ctx.retries.run(
      `container ${containerNameKey(pod.id, spec.name, spec.attempt ?? 0)}`,
      canonicalJson({ config: req.config, sandbox: pod.id }),
      call,
      () => mappingCriFields(criPath, () => ctx.peapod.createContainer(pod.id, spec)).then((r) => r.id),
      (containerId) => ctx.containers.find(containerId)?.state === 'created',
    );
    if (how === 'joined') ctx.log.info({ container: id }, 'CreateContainer retry joins the creation in progress');
    if (how === 'handed over') ctx.log.info({ container: id }, 'CreateContainer retry receives the container that finished after its caller left');
    return { container_id: id };
  };
}
