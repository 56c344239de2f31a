import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse';
import type { RuntimeContext } from './context';
import { filterContainers, toCriContainer } from './container-view';
import { ResponseMemo } from './response-memo';

/**
 * CRI `ListContainers`, filtered by id (full or unique prefix), state,
 * pod_sandbox_id (full or unique prefix) and label_selector (all pairs must match).
 * While nothing changed, the same response (and its encoding) is answered
 * again (response-memo.ts): the kubelet relists every second.
 */
export function listContainers(ctx: RuntimeContext) {
  const memo = new ResponseMemo<ListContainersResponse>();
  return async (req: ListContainersRequest__Output): Promise<ListContainersResponse> => {
    const recs = filterContainers(ctx, req.filter);
    return memo.get(JSON.stringify(req.filter), recs, () => ({ containers: recs.map(toCriContainer) }));
  };
}
