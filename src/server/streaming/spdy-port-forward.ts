/**
 * Port forwarding over SPDY, subprotocol portforward.k8s.io, as the kubelet's
 * CRI streaming server serves it (kubernetes pkg/kubelet/cri/streaming/
 * portforward/httpstream.go; client in client-go tools/portforward):
 *
 *  - for every forwarded connection the client opens two streams with the
 *    headers `streamType` (`error`, then `data`), `port` and `requestID`;
 *    the pair is matched by requestID (clients too old to send one are
 *    paired by stream ID: error = ID, data = ID - 2);
 *  - once both exist the data stream is connected to the port in the pod;
 *    a failure is written as text on the error stream; both streams are
 *    then ended;
 *  - a pair not complete within the stream creation timeout is given up,
 *    with a message on its error stream;
 *  - at most `slots` forwards run at once (per connection and in total, see
 *    port-forward-limit.ts); one past the limit is refused on its error
 *    stream. When a forward ends, whatever the client still sends on its
 *    data stream is dropped, so one finished forward never holds up the
 *    session's other streams.
 */
import type { Logger } from '../../common/logger';
import type { PortForwardBackend } from './backend';
import type { PortForwardSlots } from './port-forward-limit';
import type { PortForwardStreamRequest } from './requests';
import type { SpdySession, SpdyStream } from './spdy/session';

interface StreamPair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Parses a port header; undefined unless an integer 1 to 65535. */
export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value.trim())) return undefined;
  const port = Number(value.trim());
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Serves port-forward streams on an upgraded SPDY session until the session
 * ends (the client closes it, or the idle timeout).
 */
export function serveSpdyPortForward(
  session: SpdySession,
  req: PortForwardStreamRequest,
  backend: PortForwardBackend,
  opts: { creationTimeoutMs: number; log: Logger; slots: PortForwardSlots },
): Promise<void> {
  const log = opts.log.child({ stream: 'portforward', sandboxId: req.sandboxId });
  const pairs = new Map<string, StreamPair>();
  const abort = new AbortController();

  const requestIdOf = (stream: SpdyStream, type: string): string => {
    const id = stream.header('requestid');
    if (id) return id;
    return String(type === 'error' ? stream.id : stream.id - 2);
  };

  const forward = async (pair: StreamPair, requestId: string): Promise<void> => {
    const data = pair.data as SpdyStream;
    const error = pair.error as SpdyStream;
    const port = parsePort(data.header('port'));
    let release: (() => void) | undefined;
    try {
      if (port === undefined) throw new Error(`invalid port header ${JSON.stringify(data.header('port') ?? '')}`);
      release = opts.slots.acquire();
      await backend.portForward(req.sandboxId, port, data);
    } catch (err) {
      const msg = `error forwarding port ${port ?? data.header('port') ?? '?'} to pod ${req.sandboxId}: ${err instanceof Error ? err.message : String(err)}`;
      log.warn({ requestId, port }, msg);
      if (!error.isReset) error.write(msg);
    } finally {
      release?.();
      if (!data.writableEnded) data.end();
      data.resume();
      error.end();
      error.resume();
    }
  };

  return new Promise<void>((resolve) => {
    session.on('close', () => {
      abort.abort();
      for (const p of pairs.values()) clearTimeout(p.timer);
      resolve();
    });
    session.on('stream', (stream: SpdyStream) => {
      stream.reply();
      const type = (stream.header('streamtype') ?? '').toLowerCase();
      if (type !== 'data' && type !== 'error') {
        log.warn({ streamType: type }, 'unexpected port-forward stream type');
        stream.reset();
        return;
      }
      const requestId = requestIdOf(stream, type);
      let pair = pairs.get(requestId);
      if (!pair) {
        pair = {
          timer: setTimeout(() => {
            pairs.delete(requestId);
            const msg = `timed out waiting for the ${pair?.data ? 'error' : 'data'} stream of request ${requestId}`;
            log.warn({ requestId }, msg);
            if (pair?.error) {
              pair.error.end(msg);
              pair.error.resume();
            }
            pair?.data?.reset();
          }, opts.creationTimeoutMs),
        };
        pairs.set(requestId, pair);
      }
      if (pair[type]) {
        log.warn({ requestId, streamType: type }, 'second port-forward stream of one type for a request');
        stream.reset();
        return;
      }
      pair[type] = stream;
      if (pair.data && pair.error) {
        clearTimeout(pair.timer);
        pairs.delete(requestId);
        void forward(pair, requestId);
      }
    });
  });
}
