/**
 * Exec and attach over SPDY, as the kubelet's CRI streaming server serves
 * them (kubernetes pkg/kubelet/cri/streaming/remotecommand, client side in
 * client-go tools/remotecommand):
 *
 *  - the client opens one stream per standard stream, told apart by the
 *    `streamType` header: `error` first, then `stdin`, `stdout`, `stderr`
 *    (not with a tty: the terminal merges it into stdout) and, from
 *    v3.channel.k8s.io on with a tty, `resize`;
 *  - the server answers every stream with SYN_REPLY and waits until all the
 *    streams the request implies exist, for at most the stream creation
 *    timeout, then runs the command;
 *  - the outcome goes on the error stream: v4 writes a Status JSON always
 *    (exit codes as Failure/NonZeroExitCode), v1 to v3 write a message only
 *    on failure; then the server ends every stream and the session.
 */
import type { Logger } from '../../common/logger';
import type { RemoteCommandBackend } from './backend';
import { reportsJsonStatus, runRemoteCommand, supportsResize } from './remote-command';
import type { AttachStreamRequest, ExecStreamRequest } from './requests';
import { resizeEvents } from './resize';
import type { SpdySession, SpdyStream } from './spdy/session';
import { encodeStatus } from './status';

/** The `streamType` values of the remote-command protocols. */
type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';
const STREAM_TYPES: readonly string[] = ['error', 'stdin', 'stdout', 'stderr', 'resize'];

/** What serving one SPDY remote-command session (exec, attach) needs: the stream-creation deadline and the logger. */
export interface SpdyServeOptions {
  /** How long the client may take to open its streams (ms). */
  creationTimeoutMs: number;
  log: Logger;
}

/** Streams a remote-command client may have open at once: the five kinds, with room for a stray one. */
export const REMOTE_COMMAND_MAX_STREAMS = 8;

/** How many streams the client opens for a request under a protocol version. */
export function expectedStreamCount(req: ExecStreamRequest | AttachStreamRequest, protocol: string): number {
  let n = 1; // error
  if (req.stdin) n++;
  if (req.stdout) n++;
  if (req.stderr && !req.tty) n++;
  if (req.tty && supportsResize(protocol)) n++;
  return n;
}

/**
 * Serves one exec or attach on an upgraded SPDY session; resolves when the
 * session is over.
 */
export function serveSpdyRemoteCommand(
  session: SpdySession,
  protocol: string,
  req: ExecStreamRequest | AttachStreamRequest,
  backend: RemoteCommandBackend,
  opts: SpdyServeOptions,
): Promise<void> {
  const log = opts.log.child({ stream: req.kind, containerId: req.containerId, protocol });
  const expected = expectedStreamCount(req, protocol);
  const streams = new Map<StreamType, SpdyStream>();
  let received = 0;
  let started = false;
  const abort = new AbortController();

  return new Promise<void>((resolve) => {
    session.on('close', (reason?: string) => {
      abort.abort();
      if (!started) log.warn({ reason }, 'streaming session ended before the client opened its streams');
      resolve();
    });
    const timer = setTimeout(() => {
      log.warn({ received, expected }, 'timed out waiting for the client to create streams');
      session.destroy('stream creation timeout');
    }, opts.creationTimeoutMs);

    session.on('stream', (stream: SpdyStream) => {
      stream.reply();
      if (started) {
        log.warn({ streamId: stream.id }, 'unexpected stream after the command started');
        stream.reset();
        return;
      }
      const type = (stream.header('streamtype') ?? '').toLowerCase();
      if (!STREAM_TYPES.includes(type)) {
        log.warn({ streamType: type }, 'unexpected stream type');
        stream.resume(); // counted, as the kubelet does, but its data is dropped
      } else streams.set(type as StreamType, stream);
      received++;
      if (received < expected) return;
      started = true;
      clearTimeout(timer);
      run().catch((err: unknown) => log.error({ err }, 'remote command failed'));
    });

    const run = async (): Promise<void> => {
      const stdout = req.stdout ? streams.get('stdout') : undefined;
      const stderr = req.stderr && !req.tty ? streams.get('stderr') : undefined;
      const stdin = req.stdin ? streams.get('stdin') : undefined;
      const errorStream = streams.get('error');
      const resize = req.tty ? streams.get('resize') : undefined;
      // Consume what the client may send on streams we only write to.
      for (const s of [stdout, stderr, errorStream]) s?.resume();
      const status = await runRemoteCommand(backend, req, {
        stdin,
        stdout,
        stderr,
        tty: req.tty,
        resize: resize ? resizeEvents(resize) : undefined,
        signal: abort.signal,
      });
      // Whatever the process did not read is dropped, so a full stdin stream no longer holds the session.
      stdin?.resume();
      const bytes = encodeStatus(status, reportsJsonStatus(protocol) ? 'json' : 'text');
      if (errorStream && bytes) errorStream.write(bytes);
      await Promise.all([stdout, stderr, errorStream].map((s) => (s ? endStream(s) : undefined)));
      stdin?.end();
      resize?.end();
      log.debug({ status: status.status, reason: status.reason }, 'remote command done');
      session.close();
    };
  });
}

/** Ends the writing half of a stream and waits until its data is handed to the session. */
function endStream(stream: SpdyStream): Promise<void> {
  return new Promise<void>((resolve) => {
    if (stream.writableFinished || stream.isReset) return resolve();
    stream.once('finish', resolve);
    stream.once('reset', resolve);
    stream.end();
  });
}
