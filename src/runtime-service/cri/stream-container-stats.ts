import type { StreamContainerStatsRequest__Output } from '../../generated/runtime/v1/StreamContainerStatsRequest';
import type { StreamContainerStatsResponse } from '../../generated/runtime/v1/StreamContainerStatsResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { listContainerStats } from './list-container-stats';

/**
 * CRI `StreamContainerStats` (KEP-5825): the stats ListContainerStats
 * answers for the same filter, in responses of at most
 * `list_stream_batch_size` containers each.
 */
export function streamContainerStats(ctx: RuntimeContext): ServerStreamImpl<StreamContainerStatsRequest__Output, StreamContainerStatsResponse> {
  const list = listContainerStats(ctx);
  return streamInChunks(
    async (req: StreamContainerStatsRequest__Output) => (await list(req)).stats ?? [],
    (container_stats) => ({ container_stats }),
    () => ctx.config.list_stream_batch_size,
  );
}
