import type { StreamPodSandboxesRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxesRequest';
import type { StreamPodSandboxesResponse } from '../../generated/runtime/v1/StreamPodSandboxesResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { listPodSandbox } from './list-pod-sandbox';

/**
 * CRI `StreamPodSandboxes` (KEP-5825): the sandboxes ListPodSandbox
 * answers for the same filter, in responses of at most
 * `list_stream_batch_size` sandboxes each.
 */
export function streamPodSandboxes(ctx: RuntimeContext): ServerStreamImpl<StreamPodSandboxesRequest__Output, StreamPodSandboxesResponse> {
  const list = listPodSandbox(ctx);
  return streamInChunks(
    async (req: StreamPodSandboxesRequest__Output) => (await list(req)).items ?? [],
    (pod_sandboxes) => ({ pod_sandboxes }),
    () => ctx.config.list_stream_batch_size,
  );
}
