import type { StreamContainersRequest__Output } from '../../generated/runtime/v1/StreamContainersRequest';
import type { StreamContainersResponse } from '../../generated/runtime/v1/StreamContainersResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { listContainers } from './list-containers';

/**
 * CRI `StreamContainers` (KEP-5825, the kubelet's CRIListStreaming): the
 * containers ListContainers answers for the same filter, in responses of
 * at most `list_stream_batch_size` containers each.
 */
export function streamContainers(ctx: RuntimeContext): ServerStreamImpl<StreamContainersRequest__Output, StreamContainersResponse> {
  const list = listContainers(ctx);
  return streamInChunks(
    async (req: StreamContainersRequest__Output) => (await list(req)).containers ?? [],
    (containers) => ({ containers }),
    () => ctx.config.list_stream_batch_size,
  );
}
