import type { ListContainerStatsRequest__Output } from '../generated/runtime/v1/ListContainerStatsRequest';
import type { ListContainerStatsResponse } from '../generated/runtime/v1/ListContainerStatsResponse';
import type { RuntimeContext } from './context';
import { matchesLabels, toCriStats } from './container/cri-view';

/** CRI `ListContainerStats`, filtered by id, pod_sandbox_id (full or unique prefix) and label_selector. */
export function listContainerStats(ctx: RuntimeContext) {
  return async (req: ListContainerStatsRequest__Output): Promise<ListContainerStatsResponse> => {
    const f = req.filter;
    let recs = ctx.containers.list();
    if (f?.id) {
      const one = ctx.containers.find(f.id);
      recs = one ? [one] : [];
    }
    if (f?.pod_sandbox_id) {
      const sandboxId = ctx.sandboxes.get(f.pod_sandbox_id)?.id ?? f.pod_sandbox_id;
      recs = recs.filter((r) => r.sandboxId === sandboxId);
    }
    recs = recs.filter((r) => matchesLabels(r.labels, f?.label_selector));
    return { stats: recs.map((r) => toCriStats(ctx.containers, r)) };
  };
}
