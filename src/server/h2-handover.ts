import type { Duplex } from 'node:stream';
import type * as net from 'node:net';
import { AuthorityRewriter, MAX_HEADER_BLOCK, rewritingConnection } from './h2-authority';
import { PREFACE, FRAME_HEADER_BYTES, TYPE_HEADERS, TYPE_SETTINGS, TYPE_CONTINUATION, FLAG_ACK, FLAG_END_HEADERS } from './h2-frames';

/**
 * Why this exists: the `:authority` rewriter (h2-authority.ts) hands the
 * HTTP/2 server a JavaScript stream, so nghttp2 cannot read or write the
 * socket itself and every byte of every call crosses JavaScript twice. Only
 * clients that send the socket path as `:authority` (crictl and critest up to
 * v1.26, older kubelets) need it; grpc-js sends `localhost`, newer grpc-go a
 * valid authority too. A gRPC client sends one authority for all the calls of
 * a connection (its target), so the first request tells which kind it is.
 *
 * What it does, per accepted connection: it sends an empty SETTINGS frame at
 * once (a server's connection preface, RFC 9113 §3.4: grpc-go sends no
 * request before it has one), then reads the client's preface and frames
 * until both the first header block has ended and the client has
 * acknowledged that SETTINGS. That acknowledgement is taken out of the bytes:
 * the HTTP/2 server did not send the frame and would take its ACK as a
 * connection error; it sends its own SETTINGS when it gets the connection (a
 * second SETTINGS frame is ordinary HTTP/2). When the first block's
 * `:authority` needed no repair, the bytes read are put back into the socket
 * (`unshift`, which Node's HTTP/2 server reads first) and the raw socket goes
 * to the server; otherwise the connection goes through the rewriter, which
 * goes on from the state the first block left.
 *
 * Bounds: at most MAX_SNIFF_BYTES and SNIFF_TIMEOUT_MS are spent reading;
 * past either (a client that connects and sends no request for a while), the
 * connection goes through the rewriter, which serves every kind of client and
 * drops the acknowledgement if it comes later. A client whose first bytes are
 * not an HTTP/2 preface is closed at once (onError is told).
 *
 * A client that sent a valid authority first and a socket path later on the
 * same connection would have those later streams reset by nghttp2
 * (PROTOCOL_ERROR); no gRPC client does that.
 */

/** An empty SETTINGS frame: the server's preface, every setting at its default. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);
/** Most bytes read before the decision: a first header block of the largest size the rewriter accepts, and 64 KiB of other frames. */
export const MAX_SNIFF_BYTES = MAX_HEADER_BLOCK + 64 * 1024;
/** Longest wait for the first request and the acknowledgement, in ms; past it the connection is rewritten. */
export const SNIFF_TIMEOUT_MS = 10_000;

/** How a connection was handed to the HTTP/2 server. */
export type HandoverPath = 'raw' | 'rewritten';

/** What the scan of the bytes read so far found. */
interface Scan {
  /** The bytes do not start with the HTTP/2 preface. */
  notHttp2: boolean;
  /** Offset of the client's first SETTINGS ACK frame (length 0), if read. */
  ackAt: number | undefined;
  /** The first header block has ended (its END_HEADERS frame is read whole). */
  firstBlockDone: boolean;
}

/**
 * Finds, in the first bytes of a client connection, the preface, the first
 * SETTINGS ACK and the end of the first header block. Only whole frames are
 * looked at.
 * @param bytes what the client sent so far, from its first byte
 */
export function scanClientStart(bytes: Buffer): Scan {
  const head = Math.min(bytes.length, PREFACE.length);
  if (!bytes.subarray(0, head).equals(PREFACE.subarray(0, head))) return { notHttp2: true, ackAt: undefined, firstBlockDone: false };
  let ackAt: number | undefined;
  let firstBlockDone = false;
  let pos = PREFACE.length;
  while (pos + FRAME_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUIntBE(pos, 3);
    const type = bytes[pos + 3];
    const flags = bytes[pos + 4];
    if (pos + FRAME_HEADER_BYTES + length > bytes.length) break;
    if (type === TYPE_SETTINGS && flags & FLAG_ACK && length === 0 && ackAt === undefined) ackAt = pos;
    if ((type === TYPE_HEADERS || type === TYPE_CONTINUATION) && flags & FLAG_END_HEADERS) firstBlockDone = true;
    pos += FRAME_HEADER_BYTES + length;
    if (firstBlockDone && ackAt !== undefined) break;
  }
  return { notHttp2: false, ackAt, firstBlockDone };
}

/** Optional parts of handOverConnection. */
export interface HandoverOptions {
  /** Told which way the connection went (tracing, tests). */
  onHandover?: (path: HandoverPath) => void;
  /** The wait for the first request, in ms (default SNIFF_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Hands an accepted CRI connection to the HTTP/2 server, raw when its first
 * request's `:authority` is valid, through the rewriter otherwise (see above).
 * A client that closes before the decision is dropped without a word.
 * @param socket a connection just accepted on the CRI unix socket
 * @param inject gives the connection to the HTTP/2 server (grpc-js's connection injector)
 * @param onError told once when the client sends something malformed (the socket is then destroyed)
 */
export function handOverConnection(socket: net.Socket, inject: (connection: net.Socket | Duplex) => void, onError: (err: Error) => void, options: HandoverOptions = {}): void {
  const onHandover = options.onHandover;
  let chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  const finish = (): void => {
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onEnd);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.pause();
  };
  /** The rewriter's way, also when a bound is hit: the acknowledgement is dropped wherever it comes. */
  const rewrite = (bytes: Buffer, ackDropped: boolean): void => {
    const connection = rewritingConnection(socket, onError, { bytes, dropSettingsAcks: ackDropped ? 0 : 1 });
    if (!connection) return;
    onHandover?.('rewritten');
    inject(connection);
  };
  const decide = (timedOut: boolean): void => {
    const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    chunks = [];
    finish();
    const scan = scanClientStart(bytes);
    if (scan.notHttp2) {
      onError(new Error('not an HTTP/2 connection preface'));
      socket.destroy();
      return;
    }
    const rest = scan.ackAt === undefined ? bytes : Buffer.concat([bytes.subarray(0, scan.ackAt), bytes.subarray(scan.ackAt + FRAME_HEADER_BYTES)]);
    if (timedOut || !scan.firstBlockDone || scan.ackAt === undefined) {
      rewrite(rest, scan.ackAt !== undefined);
      return;
    }
    // The first block decides; the rewriter's walk also checks it is well-formed.
    const judge = new AuthorityRewriter();
    try {
      judge.push(rest);
    } catch (err) {
      onError(err as Error);
      socket.destroy();
      return;
    }
    if (judge.repairedBlocks > 0) {
      rewrite(rest, true);
      return;
    }
    onHandover?.('raw');
    socket.unshift(rest);
    inject(socket);
  };
  const onData = (chunk: Buffer): void => {
    if (done) return;
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_SNIFF_BYTES) return decide(true);
    const bytes = chunks.length === 1 ? chunks[0] : (chunks = [Buffer.concat(chunks)])[0];
    const scan = scanClientStart(bytes);
    if (scan.notHttp2 || (scan.firstBlockDone && scan.ackAt !== undefined)) decide(false);
  };
  const onEnd = (): void => {
    if (done) return;
    finish();
    socket.destroy();
  };
  // The wait never holds the process up (a server stopping exits with its connections).
  const timer = setTimeout(() => decide(true), options.timeoutMs ?? SNIFF_TIMEOUT_MS).unref();
  socket.on('data', onData);
  socket.on('error', onEnd);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.write(EMPTY_SETTINGS);
}
