import type { PortForwardBackend, RemoteCommandBackend } from '../../server/streaming/backend';
import type { StreamRequest } from '../../server/streaming/requests';

/**
 * What Exec, Attach and PortForward need: the backend that checks and serves
 * the target, and a way to register a request and get the URL of the
 * streaming server (StreamingServer.register).
 */
export interface StreamingContext {
  /** Exec and Attach: the container engine's (cri/streaming-backends.ts). */
  remoteCommand: RemoteCommandBackend;
  /** PortForward: the pods' network namespaces (server/streaming/sandbox-port-forward.ts). */
  portForward: PortForwardBackend;
  /** Registers a validated request; returns its single-use URL. */
  register(req: StreamRequest): string;
}

/** A StreamingContext narrowed to the backend one RPC needs. */
export interface StreamingRegistrar<B> {
  backend: B;
  register(req: StreamRequest): string;
}
