import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse';
import type { RuntimeContext } from './context';
import { filterContainers, toCriContainer } from './container-view';

/**
 * CRI `ListContainers`, filtered by id (full or unique prefix), state,
 * pod_sandbox_id (full or unique prefix) and label_selector (all pairs must match).
 */
export function listContainers(ctx: RuntimeContext) {
  return async (req: ListContainersRequest__Output): Promise<ListContainersResponse> => {
    return { containers: filterContainers(ctx, req.filter).map(toCriContainer) };
  };
}
