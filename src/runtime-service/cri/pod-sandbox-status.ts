import type { PodSandboxStatusRequest__Output } from '../../generated/runtime/v1/PodSandboxStatusRequest';
import type { PodSandboxStatusResponse } from '../../generated/runtime/v1/PodSandboxStatusResponse';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus';
import { invalidArgument, notFound } from '../../common/errors';
import type { RuntimeContext } from './context';
import { readAttachment } from '../cni/attachment';
import type { SandboxRecord } from '../sandbox/record';
import { sandboxPaths } from '../sandbox/paths';
import { toPodSandboxStatus } from './pod-sandbox-view';
import { nowNs } from '../../common/time';
import { RecordMemo } from './record-memo';

/**
 * CRI `PodSandboxStatus`: state (READY turns NOTREADY when the namespaces
 * or infra process are gone), created_at, IPs, namespace options,
 * labels, annotations, runtime handler, metadata. With `verbose`,
 * `info["info"]` is JSON with the namespace paths, the infra pid and the
 * CNI result.
 *
 * The pod's liveness is checked on every call (Sandboxes.refresh: a statfs
 * per namespace pin, a /proc read); the status and the verbose info are
 * built once per record version (the store's shared record, record-memo.ts),
 * the CNI result read from the pod's CNI cache file once per ready version
 * (it is written before the `ready` transition that makes the version, and
 * removed only after a stop's `stopped` one). Only the response's timestamp
 * is new on each call.
 * @throws PeapodError NOT_FOUND for an unknown ID (or a prefix matching none or several).
 */
export function podSandboxStatus(ctx: RuntimeContext) {
  const statuses = new RecordMemo<SandboxRecord, PodSandboxStatus>();
  const infos = new RecordMemo<SandboxRecord, Record<string, string>>();
  return async (req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const found = ctx.sandboxes.getShared(req.pod_sandbox_id);
    if (!found) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    const r = ctx.sandboxes.refresh(found);
    const response: PodSandboxStatusResponse = { status: statuses.get(r, () => toPodSandboxStatus(r)), timestamp: nowNs().toString() };
    // A stopped pod's CNI cache file goes in its teardown, after the `stopped` version is written: read it each time then.
    if (req.verbose) response.info = r.state === 'ready' ? infos.get(r, () => verboseInfo(ctx, r)) : verboseInfo(ctx, r);
    return response;
  };
}

/** The verbose `info`: namespace paths, infra pid, cgroup parent, CNI network and result, the pod's config as received. */
function verboseInfo(ctx: RuntimeContext, r: SandboxRecord): Record<string, string> {
  const attachment = readAttachment(sandboxPaths(ctx.config, r.id).cniCacheFile);
  return {
    info: JSON.stringify({
      id: r.id,
      netnsPath: r.namespaces.network ?? '',
      namespaces: r.namespaces,
      infraPid: r.infraPid ?? null,
      hostNetwork: r.hostNetwork,
      cgroupParent: r.cgroupParent,
      shmPath: r.shmPath ?? null,
      sysctls: r.sysctls,
      cniNetwork: attachment?.network.name ?? null,
      cniResult: attachment?.result ?? null,
      config: r.config,
    }),
  };
}
