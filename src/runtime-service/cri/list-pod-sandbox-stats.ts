import type { ListPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/ListPodSandboxStatsRequest';
import type { ListPodSandboxStatsResponse } from '../../generated/runtime/v1/ListPodSandboxStatsResponse';
import type { RuntimeContext } from './context';
import { matchesLabels } from './container-view';
import { podSandboxStatsOf } from './pod-sandbox-stats-view';

/** CRI `ListPodSandboxStats`, filtered by id (full or unique prefix) and label_selector. */
export function listPodSandboxStats(ctx: RuntimeContext) {
  return async (req: ListPodSandboxStatsRequest__Output): Promise<ListPodSandboxStatsResponse> => {
    const f = req.filter;
    let sandboxes = ctx.sandboxes.list();
    if (f?.id) {
      const one = ctx.sandboxes.get(f.id);
      sandboxes = one ? [one] : [];
    }
    sandboxes = sandboxes.filter((s) => matchesLabels(s.labels, f?.label_selector));
    const stats = [];
    for (const sb of sandboxes) stats.push(await podSandboxStatsOf(ctx, sb));
    return { stats };
  };
}
