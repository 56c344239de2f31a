import type { ExecSyncRequest__Output } from '../../generated/runtime/v1/ExecSyncRequest';
import type { ExecSyncResponse } from '../../generated/runtime/v1/ExecSyncResponse';
import { invalidArgument } from '../../common/errors';
import { MAX_MESSAGE_BYTES } from '../../server/proto';
import type { RuntimeContext } from './context';

/** Bytes kept free for the response's framing (field tags, lengths, exit code). */
const RESPONSE_OVERHEAD = 1024;

/**
 * CRI `ExecSync`: runs `cmd` in the container and returns stdout, stderr
 * (each at most 16 MiB) and the exit code. When `timeout` (seconds, 0 =
 * none) expires the process and everything it started are killed and the
 * call fails with DEADLINE_EXCEEDED (`command timed out`), as containerd
 * answers: the kubelet takes that for a timed-out probe. stdout is shortened
 * further when both outputs together would not fit in one gRPC message.
 * @throws PeapodError INVALID_ARGUMENT for an empty cmd; NOT_FOUND; FAILED_PRECONDITION when not running;
 *   TIMED_OUT (DEADLINE_EXCEEDED) when the timeout expired; INTERNAL with the runtime's message.
 */
export function execSync(ctx: RuntimeContext) {
  return async (req: ExecSyncRequest__Output): Promise<ExecSyncResponse> => {
    if (!req.container_id) throw invalidArgument('container_id is required');
    if (req.cmd.length === 0) throw invalidArgument('cmd is required');
    const timeout = Number(req.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) throw invalidArgument('timeout must be a non-negative number of seconds');
    // Both outputs together must fit one message (stderr kept first); the domain holds no more than that.
    const budget = MAX_MESSAGE_BYTES - RESPONSE_OVERHEAD;
    const r = await ctx.containers.execSync(req.container_id, req.cmd, timeout, { maxOutputBytes: budget });
    const stderr = r.stderr.subarray(0, budget);
    const stdout = r.stdout.subarray(0, budget - stderr.length);
    return { stdout, stderr, exit_code: r.exitCode };
  };
}
