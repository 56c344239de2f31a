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
import { loadCri } from '../../server/proto';
import { attachEncoding, int64Field } from '../../server/encoded-response';

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
 * is new on each call: the status and info are encoded once per version
 * too, and each response carries the bytes of both with the timestamp's
 * (server/encoded-response.ts).
 * @throws PeapodError NOT_FOUND for an unknown ID (or a prefix matching none or several).
 */
export function podSandboxStatus(ctx: RuntimeContext) {
  const serialize = loadCri().runtime.v1.RuntimeService.service.PodSandboxStatus.responseSerialize;
  // Each with the encoding of a response holding only it (fields 1 and 2); the timestamp is field 4.
  const statuses = new RecordMemo<SandboxRecord, { status: PodSandboxStatus; bytes: Buffer }>();
  const infos = new RecordMemo<SandboxRecord, { info: Record<string, string>; bytes: Buffer }>();
  const statusOf = (r: SandboxRecord): { status: PodSandboxStatus; bytes: Buffer } => {
    const status = toPodSandboxStatus(r);
    return { status, bytes: serialize({ status }) };
  };
  const infoOf = (r: SandboxRecord): { info: Record<string, string>; bytes: Buffer } => {
    const info = verboseInfo(ctx, r);
    return { info, bytes: serialize({ info }) };
  };
  return async (req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const found = ctx.sandboxes.getShared(req.pod_sandbox_id);
    if (!found) throw notFound(`pod sandbox ${req.pod_sandbox_id} not found`);
    const r = ctx.sandboxes.refresh(found);
    const status = statuses.get(r, () => statusOf(r));
    const timestamp = nowNs().toString();
    const response: PodSandboxStatusResponse = { status: status.status, timestamp };
    const parts = [status.bytes];
    if (req.verbose) {
      // A stopped pod's CNI cache file goes in its teardown, after the `stopped` version is written: read it each time then.
      const info = r.state === 'ready' ? infos.get(r, () => infoOf(r)) : infoOf(r);
      response.info = info.info;
      parts.push(info.bytes);
    }
    parts.push(int64Field(4, timestamp));
    return attachEncoding(response, Buffer.concat(parts));
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
