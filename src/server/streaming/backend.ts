/**
 * What the streaming layer needs from the container engine: the interface
 * between the protocol side (SPDY/WebSocket, tokens, status reporting) and
 * the side that runs processes in containers and reaches into pod network
 * namespaces. The container engine implements it; tests use a fake that runs
 * host processes (test/support/fake-host-process-backend.ts).
 */
import type { Duplex } from 'node:stream';
import type { StdioStreams } from '../../runtime-service/container/stdio';

// The client's stdio as the container code takes it is the domain's (a CLI passes its own).
export type { StdioStreams, TerminalSize } from '../../runtime-service/container/stdio';

/**
 * The container engine side of Exec and Attach.
 *
 * Stream contract: the backend writes to `stdout`/`stderr` but never ends
 * them; the streaming layer ends them after the returned promise settles. A
 * backend resolves only once everything the process wrote has been written
 * to those streams.
 */
export interface RemoteCommandBackend {
  /**
   * Checks that a container exists and is running, for Exec and Attach.
   * @throws PeapodError NOT_FOUND for an unknown container, WRONG_STATE
   *   when it is not running.
   */
  checkContainer(containerId: string): Promise<void>;

  /**
   * Refuses stdio combinations the backend cannot serve (e.g. a terminal),
   * before a URL is handed out. Optional: absent means all are served.
   * @throws PeapodError (UNIMPLEMENTED or INVALID_ARGUMENT) naming the field.
   */
  checkStdio?(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void;

  /**
   * Runs `cmd` in the container with the given stdio (CRI Exec).
   * @returns the process's exit code (0 to 255; 128+N when killed by signal N).
   * @throws Error when the process could not be run at all; the message is
   *   reported to the client as an internal error.
   */
  exec(containerId: string, cmd: string[], io: StdioStreams): Promise<number>;

  /**
   * Joins the running container's stdio (CRI Attach) until the container
   * exits, stdin ends after the container closed it, or `io.signal` aborts.
   * Optional: without it the Attach RPC answers UNIMPLEMENTED.
   * @throws Error when the container cannot be attached to.
   */
  attach?(containerId: string, io: StdioStreams): Promise<void>;
}

/** The pod side of PortForward. */
export interface PortForwardBackend {
  /**
   * Checks that a pod sandbox exists and is ready, for PortForward.
   * @throws PeapodError NOT_FOUND for an unknown sandbox, WRONG_STATE
   *   when it is not ready.
   */
  checkSandbox(sandboxId: string): Promise<void>;

  /**
   * Connects `stream` to TCP `port` on 127.0.0.1 inside the sandbox's network
   * namespace (CRI PortForward): bytes read from `stream` go to the port,
   * bytes from the port are written to `stream`. Resolves when both
   * directions are done; the streaming layer ends `stream` afterwards if the
   * backend did not.
   * @throws Error when the connection cannot be made (reported to the
   *   client on the port-forward error stream).
   */
  portForward(sandboxId: string, port: number, stream: Duplex): Promise<void>;
}

/**
 * The backends the streaming layer serves from; either may be absent (its
 * RPCs then answer UNIMPLEMENTED and its routes are never handed out).
 */
export interface StreamingBackends {
  remoteCommand?: RemoteCommandBackend;
  portForward?: PortForwardBackend;
}
