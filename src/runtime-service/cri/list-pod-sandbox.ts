import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse';
import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox';
import { loadCri } from '../../server/proto';
import type { RuntimeContext } from './context';
import type { SandboxRecord } from '../sandbox/record';
import { EncodedList } from './encoded-list';
import { criSandboxState, toPodSandbox } from './pod-sandbox-view';
import { ResponseMemo } from './response-memo';

/**
 * CRI `ListPodSandbox`: every sandbox (states refreshed as in
 * PodSandboxStatus, a check passed within the last second trusted:
 * Sandboxes.refreshForList), or those matching the filter: `id`
 * (full or unique prefix), `state`, and `label_selector` (every pair must
 * match). While nothing changed, the same response (and its encoding) is
 * answered again (response-memo.ts): the kubelet relists every second.
 * Otherwise the response is made of each record's view and encoding, kept
 * per record (encoded-list.ts), so only changed records are encoded.
 */
export function listPodSandbox(ctx: RuntimeContext) {
  const memo = new ResponseMemo<ListPodSandboxResponse>();
  const list = new EncodedList<SandboxRecord, PodSandbox, ListPodSandboxResponse>(toPodSandbox, (items) => ({ items }), loadCri().runtime.v1.RuntimeService.service.ListPodSandbox.responseSerialize);
  return async (req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> => {
    const f = req.filter;
    let items: SandboxRecord[];
    if (f?.id) {
      // The shared record (no row query for a full ID), so its view and encoding are kept as for the unfiltered list.
      const one = ctx.sandboxes.getShared(f.id);
      items = one ? [one] : [];
    } else items = ctx.sandboxes.list();
    items = items.map((r) => ctx.sandboxes.refreshForList(r));
    if (f?.state) items = items.filter((r) => criSandboxState(r) === f.state!.state);
    const selector = Object.entries(f?.label_selector ?? {});
    if (selector.length) items = items.filter((r) => selector.every(([k, v]) => r.labels[k] === v));
    const shown = items;
    return memo.get(JSON.stringify(f), shown, () => list.response(shown));
  };
}
