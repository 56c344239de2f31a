import type { AttachRequest__Output } from '../../generated/runtime/v1/AttachRequest';
import type { AttachResponse } from '../../generated/runtime/v1/AttachResponse';
import { invalidArgument } from '../../common/errors';
import { validateStdio } from './exec';
import type { RemoteCommandBackend } from '../../server/streaming/backend';
import type { StreamingRegistrar } from './streaming-context';

/**
 * CRI `Attach`: validates the request, checks the container is running
 * (backend), registers it with the streaming server and returns the
 * single-use URL (valid one minute).
 * @throws PeapodError INVALID_ARGUMENT for a missing container_id or bad stdio
 *   flags; NOT_FOUND / FAILED_PRECONDITION from the backend;
 *   RESOURCE_EXHAUSTED when 1000 URLs are outstanding.
 */
export function attach(streaming: StreamingRegistrar<RemoteCommandBackend>) {
  return async (req: AttachRequest__Output): Promise<AttachResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    validateStdio(req);
    streaming.backend.checkStdio?.(req);
    await streaming.backend.checkContainer(req.container_id);
    const url = streaming.register({ kind: 'attach', containerId: req.container_id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
    return { url };
  };
}
