import type { StreamPodSandboxMetricsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxMetricsRequest';
import type { StreamPodSandboxMetricsResponse } from '../../generated/runtime/v1/StreamPodSandboxMetricsResponse';
import { type ServerStreamImpl, streamInChunks } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { allPodSandboxMetrics } from './list-pod-sandbox-metrics';

/**
 * CRI `StreamPodSandboxMetrics`: the metrics ListPodSandboxMetrics answers
 * (every pod and its containers, read now), in responses of at most
 * `list_stream_batch_size` pods each; nothing is sent for a node with no pod,
 * as containerd's streamed lists do.
 */
export function streamPodSandboxMetrics(ctx: RuntimeContext): ServerStreamImpl<StreamPodSandboxMetricsRequest__Output, StreamPodSandboxMetricsResponse> {
  return streamInChunks(
    async () => allPodSandboxMetrics(ctx),
    (pod_sandbox_metrics) => ({ pod_sandbox_metrics }),
    () => ctx.config.list_stream_batch_size,
  );
}
