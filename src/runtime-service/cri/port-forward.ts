import type { PortForwardRequest__Output } from '../../generated/runtime/v1/PortForwardRequest';
import type { PortForwardResponse } from '../../generated/runtime/v1/PortForwardResponse';
import { invalidArgument } from '../../common/errors';
import type { PortForwardBackend } from '../../server/streaming/backend';
import type { StreamingRegistrar } from './streaming-context';

/**
 * CRI `PortForward`: validates the request, checks the sandbox (backend),
 * registers it with the streaming server and returns the single-use URL
 * (valid one minute). The ports actually forwarded are those the client
 * names per connection (SPDY `port` header, WebSocket `port` query
 * parameters); `port` of the request is the default for WebSocket clients
 * that name none.
 * @throws PeapodError INVALID_ARGUMENT for a missing pod_sandbox_id or a port
 *   outside 1..65535; NOT_FOUND / FAILED_PRECONDITION from the backend;
 *   RESOURCE_EXHAUSTED when 1000 URLs are outstanding.
 */
export function portForward(streaming: StreamingRegistrar<PortForwardBackend>) {
  return async (req: PortForwardRequest__Output): Promise<PortForwardResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const bad = req.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
    if (bad !== undefined) throw invalidArgument(`port ${bad} is out of range 1..65535`);
    await streaming.backend.checkSandbox(req.pod_sandbox_id);
    const url = streaming.register({ kind: 'portforward', sandboxId: req.pod_sandbox_id, ports: [...req.port] });
    return { url };
  };
}
