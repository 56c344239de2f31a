import type { ListContainersRequest__Output } from '../generated/runtime/v1/ListContainersRequest';
import type { ListContainersResponse } from '../generated/runtime/v1/ListContainersResponse';
import type { RuntimeContext } from './context';
import { matchesLabels, toCriContainer } from './container/cri-view';

/**
 * CRI `ListContainers`, filtered by id (full or unique prefix), state,
 * pod_sandbox_id (full or unique prefix) and label_selector (all pairs must match).
 */
export function listContainers(ctx: RuntimeContext) {
  return async (req: ListContainersRequest__Output): Promise<ListContainersResponse> => {
    const f = req.filter;
    let recs = ctx.containers.list();
    if (f?.id) {
      const one = ctx.containers.find(f.id);
      recs = one ? [one] : [];
    }
    if (f?.pod_sandbox_id) {
      const sb = ctx.sandboxes.get(f.pod_sandbox_id);
      const sandboxId = sb?.id ?? f.pod_sandbox_id;
      recs = recs.filter((r) => r.sandboxId === sandboxId);
    }
    if (f?.state) recs = recs.filter((r) => r.state === f.state?.state);
    recs = recs.filter((r) => matchesLabels(r.labels, f?.label_selector));
    return { containers: recs.map(toCriContainer) };
  };
}
