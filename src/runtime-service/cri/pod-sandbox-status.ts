import type { PodSandboxStatusRequest__Output } from '../../generated/runtime/v1/PodSandboxStatusRequest';
import type { PodSandboxStatusResponse } from '../../generated/runtime/v1/PodSandboxStatusResponse';
import { invalidArgument, notFound } from '../../common/errors';
import type { RuntimeContext } from './context';
import { readAttachment } from '../cni/attachment';
import { sandboxPaths } from '../sandbox/paths';
import { toPodSandboxStatus } from './pod-sandbox-view';
import { nowNs } from '../../common/time';

/**
 * CRI `PodSandboxStatus`: state (READY turns NOTREADY when the namespaces
 * or infra process are gone), created_at, IPs, namespace options,
 * labels, annotations, runtime handler, metadata. With `verbose`,
 * `info["info"]` is JSON with the namespace paths, the infra pid and the
 * CNI result.
 * @throws PeapodError NOT_FOUND for an unknown ID (or a prefix matching none or several).
 */
export function podSandboxStatus(ctx: RuntimeContext) {
  return async (req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const found = ctx.sandboxes.get(req.pod_sandbox_id);
    if (!found) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    const r = ctx.sandboxes.refresh(found);
    const response: PodSandboxStatusResponse = { status: toPodSandboxStatus(r), timestamp: nowNs().toString() };
    if (req.verbose) {
      const attachment = readAttachment(sandboxPaths(ctx.config, r.id).cniCacheFile);
      response.info = {
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
    return response;
  };
}
