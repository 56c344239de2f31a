import type { ExecRequest__Output } from '../../generated/runtime/v1/ExecRequest';
import type { ExecResponse } from '../../generated/runtime/v1/ExecResponse';
import { invalidArgument } from '../../common/errors';
import type { RemoteCommandBackend } from '../../server/streaming/backend';
import type { StreamingRegistrar } from './streaming-context';

/**
 * Checks the stdio flags shared by ExecRequest and AttachRequest, as the
 * kubelet's streaming server does: a tty merges stderr into stdout, so
 * `tty` with `stderr` is refused; at least one stream must be requested.
 * @throws PeapodError INVALID_ARGUMENT naming the fields.
 */
export function validateStdio(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (req.tty && req.stderr) throw invalidArgument('tty and stderr cannot both be true (a terminal merges stderr into stdout)');
  if (!req.stdin && !req.stdout && !req.stderr) throw invalidArgument('one of stdin, stdout or stderr must be true');
}

/**
 * CRI `Exec`: validates the request, checks the container is running
 * (backend), registers the request with the streaming server and returns the
 * single-use URL (valid one minute) the client connects to over SPDY or
 * WebSocket.
 * @throws PeapodError INVALID_ARGUMENT for a missing container_id or cmd or bad
 *   stdio flags; NOT_FOUND / FAILED_PRECONDITION from the backend;
 *   RESOURCE_EXHAUSTED when 1000 URLs are outstanding.
 */
export function exec(streaming: StreamingRegistrar<RemoteCommandBackend>) {
  return async (req: ExecRequest__Output): Promise<ExecResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    if (req.cmd.length === 0) throw invalidArgument('cmd is required');
    validateStdio(req);
    streaming.backend.checkStdio?.(req);
    await streaming.backend.checkContainer(req.container_id);
    const url = streaming.register({
      kind: 'exec',
      containerId: req.container_id,
      cmd: [...req.cmd],
      tty: req.tty,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
    });
    return { url };
  };
}
