/**
 * The streaming requests a token stands for: what Exec, Attach and
 * PortForward validated and registered, kept until the client connects.
 */

/** A CRI ExecRequest, validated. */
export interface ExecStreamRequest {
  kind: 'exec';
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** A CRI AttachRequest, validated. */
export interface AttachStreamRequest {
  kind: 'attach';
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** A CRI PortForwardRequest, validated. */
export interface PortForwardStreamRequest {
  kind: 'portforward';
  sandboxId: string;
  /** Ports the request named (may be empty: the client names them per connection). */
  ports: number[];
}

/** A request the streaming server holds by token until its URL is used: an exec, an attach or a port-forward. */
export type StreamRequest = ExecStreamRequest | AttachStreamRequest | PortForwardStreamRequest;
