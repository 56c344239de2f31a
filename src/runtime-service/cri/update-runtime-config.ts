import type { UpdateRuntimeConfigRequest__Output } from '../../generated/runtime/v1/UpdateRuntimeConfigRequest';
import type { UpdateRuntimeConfigResponse } from '../../generated/runtime/v1/UpdateRuntimeConfigResponse';
import type { RuntimeContext } from './context';

/**
 * CRI `UpdateRuntimeConfig`: the kubelet tells the runtime the node's pod
 * CIDR (runtime_config.network_config.pod_cidr). peapod keeps it in memory
 * and reports it in verbose Status; the CNI configuration (e.g. host-local
 * ranges) stays the network administrator's, as with CRI-O.
 */
export function updateRuntimeConfig(ctx: RuntimeContext) {
  return async (req: UpdateRuntimeConfigRequest__Output): Promise<UpdateRuntimeConfigResponse> => {
    const cidr = req.runtime_config?.network_config?.pod_cidr ?? '';
    if (cidr !== '' && cidr !== ctx.network.podCidr) {
      ctx.network.podCidr = cidr;
      ctx.log.info({ podCidr: cidr }, 'pod CIDR updated');
    }
    return {};
  };
}
