import type { StreamingBackend } from '../streaming/backend';
import type { StreamRequest } from '../streaming/requests';

/**
 * What Exec, Attach and PortForward need: the container engine's streaming
 * backend (to check the target) and a way to register a request and get the
 * URL of the streaming server (StreamingServer.register).
 */
export interface StreamingContext {
  backend: StreamingBackend;
  /** Registers a validated request; returns its single-use URL. */
  register(req: StreamRequest): string;
}
