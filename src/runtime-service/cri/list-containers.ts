import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse';
import type { Container } from '../../generated/runtime/v1/Container';
import { loadCri } from '../../server/proto';
import type { ContainerRecord } from '../container/record';
import type { RuntimeContext } from './context';
import { filterContainers, toCriContainer } from './container-view';
import { EncodedList } from './encoded-list';
import { ResponseMemo } from './response-memo';

/**
 * CRI `ListContainers`, filtered by id (full or unique prefix), state,
 * pod_sandbox_id (full or unique prefix) and label_selector (all pairs must match).
 * While nothing changed, the same response (and its encoding) is answered
 * again (response-memo.ts): the kubelet relists every second. Otherwise
 * the response is made of each record's view and encoding, kept per
 * record (encoded-list.ts), so only changed records are encoded.
 */
export function listContainers(ctx: RuntimeContext) {
  const memo = new ResponseMemo<ListContainersResponse>();
  const list = new EncodedList<ContainerRecord, Container, ListContainersResponse>(toCriContainer, (containers) => ({ containers }), loadCri().runtime.v1.RuntimeService.service.ListContainers.responseSerialize);
  return async (req: ListContainersRequest__Output): Promise<ListContainersResponse> => {
    const recs = filterContainers(ctx, req.filter);
    return memo.get(JSON.stringify(req.filter), recs, () => list.response(recs));
  };
}
