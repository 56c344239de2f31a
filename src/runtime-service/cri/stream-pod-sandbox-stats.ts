import type { StreamPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxStatsRequest';
import type { StreamPodSandboxStatsResponse } from '../../generated/runtime/v1/StreamPodSandboxStatsResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { listPodSandboxStats } from './list-pod-sandbox-stats';

/**
 * CRI `StreamPodSandboxStats` (KEP-5825): the stats ListPodSandboxStats
 * answers for the same filter, in responses of at most
 * `list_stream_batch_size` sandboxes each.
 */
export function streamPodSandboxStats(ctx: RuntimeContext): ServerStreamImpl<StreamPodSandboxStatsRequest__Output, StreamPodSandboxStatsResponse> {
  const list = listPodSandboxStats(ctx);
  return streamInChunks(
    async (req: StreamPodSandboxStatsRequest__Output) => (await list(req)).stats ?? [],
    (pod_sandbox_stats) => ({ pod_sandbox_stats }),
    () => ctx.config.list_stream_batch_size,
  );
}
