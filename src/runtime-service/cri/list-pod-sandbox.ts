import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse';
import type { RuntimeContext } from './context';
import type { SandboxRecord } from '../sandbox/record';
import { criSandboxState, toPodSandbox } from './pod-sandbox-view';
import { ResponseMemo } from './response-memo';

/**
 * CRI `ListPodSandbox`: every sandbox (states refreshed as in
 * PodSandboxStatus, a check passed within the last second trusted:
 * Sandboxes.refreshForList), or those matching the filter: `id`
 * (full or unique prefix), `state`, and `label_selector` (every pair must
 * match). While nothing changed, the same response (and its encoding) is
 * answered again (response-memo.ts): the kubelet relists every second.
 */
export function listPodSandbox(ctx: RuntimeContext) {
  const memo = new ResponseMemo<ListPodSandboxResponse>();
  return async (req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> => {
    const f = req.filter;
    let items: SandboxRecord[];
    if (f?.id) {
      const one = ctx.sandboxes.get(f.id);
      items = one ? [one] : [];
    } else items = ctx.sandboxes.list();
    items = items.map((r) => ctx.sandboxes.refreshForList(r));
    if (f?.state) items = items.filter((r) => criSandboxState(r) === f.state!.state);
    const selector = Object.entries(f?.label_selector ?? {});
    if (selector.length) items = items.filter((r) => selector.every(([k, v]) => r.labels[k] === v));
    const shown = items;
    return memo.get(JSON.stringify(f), shown, () => ({ items: shown.map(toPodSandbox) }));
  };
}
