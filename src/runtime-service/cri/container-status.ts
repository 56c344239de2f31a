import type { ContainerStatusRequest__Output } from '../../generated/runtime/v1/ContainerStatusRequest';
import type { ContainerStatusResponse } from '../../generated/runtime/v1/ContainerStatusResponse';
import { invalidArgument } from '../../common/errors';
import type { ContainerRecord } from '../container/record';
import type { RuntimeContext } from './context';
import { toCriStatus } from './container-view';
import { RecordMemo } from './record-memo';

/**
 * CRI `ContainerStatus`: state, times (ns), exit code, reason, image,
 * mounts, log path, resources. With `verbose`, `info["info"]` is JSON with
 * the pid, the sandbox ID and the OCI runtime spec.
 *
 * The response is built once per record version and answered again while
 * the record is unchanged (record-memo.ts): the record is the store's shared
 * one, refreshed from conmon's exit file first (ContainerEngine.refreshShared),
 * so an exit is reported at once. The verbose spec is the bundle's
 * config.json as read for that record version (peapod writes it at creation;
 * an update of resources changes the cgroups and the record, not the file).
 * @throws PeapodError NOT_FOUND for an unknown ID.
 */
export function containerStatus(ctx: RuntimeContext) {
  const plain = new RecordMemo<ContainerRecord, ContainerStatusResponse>();
  const verbose = new RecordMemo<ContainerRecord, ContainerStatusResponse>();
  return async (req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    const rec = await ctx.containers.refreshShared(req.container_id);
    if (!req.verbose) return plain.get(rec, () => ({ status: toCriStatus(rec) }));
    return verbose.get(rec, () => ({
      status: plain.get(rec, () => ({ status: toCriStatus(rec) })).status,
      info: {
        info: JSON.stringify({
          sandboxID: rec.sandboxId,
          pid: rec.pid,
          runtimeHandler: rec.runtimeHandler,
          bundle: rec.bundle,
          rootfs: rec.rootfs,
          cgroupsPath: rec.cgroupsPath,
          runtimeSpec: ctx.containers.spec(rec.id) ?? null,
        }),
      },
    }));
  };
}
