/**
 * The fast path of a layer worker's blob download (layer-fetch.ts): one
 * HTTP/1.1 GET per hop over a bare socket (node:net, or node:tls for
 * https) that reads into one reused buffer (the socket's `onread` option)
 * and hands the body's bytes to a sink while they are in that buffer.
 *
 * Why: a stream socket allocates a fresh 64 KiB ArrayBuffer for every
 * read. For a 50 MB layer that is 800 buffers of external memory, which
 * V8 reclaims with repeated full mark-compacts of the worker's heap
 * (concurrent marking on the platform threads), and undici parses every
 * read on top. Measured on this machine (2026-12-02, one 50 MB blob from
 * the test registry, process CPU): undici 53-150 ms, node:http 74-107 ms,
 * a socket with `onread` 14-21 ms.
 *
 * It handles what a registry's blob GET normally is: a 200 with
 * Content-Length, possibly after redirects (301, 302, 303, 307, 308; at
 * most MAX_REDIRECTS; Authorization is sent only to the first hop's host,
 * as RegistryClient does). Anything else before the first body byte (a
 * connection error or timeout, a 401, a 404, a 5xx, a chunked body, a
 * malformed or oversized header block) is not an error here: `get`
 * resolves `fallback` with the reason, and the caller makes the request
 * again with the full RegistryClient, which owns retries, token refresh
 * and error messages. Once body bytes have gone to the sink, a failure is
 * final for this attempt (the sink's `error`).
 *
 * Trust: Node's roots, plus NODE_EXTRA_CA_CERTS where the CLI's launcher
 * deferred it (common/extra-ca-certs.ts), as RegistryClient.
 *
 * Bounds: the header block at most MAX_HEADER_BYTES; connect within
 * `connectTimeoutMs`; at most `idleTimeoutMs` without a byte; the body is
 * never read past its Content-Length (the sink bounds that against the
 * descriptor).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { deferredExtraCa } from '../../common/extra-ca-certs';

/** One blob GET. */
export interface BlobGetRequest {
  /** Absolute http(s) URL of the blob. */
  url: string;
  /** Authorization header for `url`'s host (not sent to another host after a redirect). */
  authorization?: string;
  /** https without certificate verification. */
  insecure: boolean;
  /** Milliseconds to connect (TCP and TLS). */
  connectTimeoutMs: number;
  /** Milliseconds without a byte before the request fails. */
  idleTimeoutMs: number;
}

/** Where the body goes. Each call's bytes are valid only during the call. */
export interface BlobGetSink {
  /** The 200's Content-Length, before any body byte; return false to stop (the sink has failed). */
  start(contentLength: number): boolean;
  /** Body bytes `buf[start, end)`. */
  data(buf: Buffer, start: number, end: number): void;
  /** All Content-Length bytes were delivered. */
  end(): void;
  /** The body failed after `start` (cut off, idle, reset). */
  error(err: Error): void;
}

/** How `get` ended: the body went to the sink (`streamed`, whatever the sink then made of it), or nothing did and the caller should use the full client. */
export type BlobGetOutcome = { kind: 'streamed' } | { kind: 'fallback'; reason: string };

/** Most bytes of a response's status line and headers (undici's default bound too). */
export const MAX_HEADER_BYTES = 16 << 10;
/** Redirect hops followed. */
export const MAX_REDIRECTS = 5;
/** The socket's read buffer, reused for every read. */
const READ_BUFFER_BYTES = 256 << 10;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A parsed status line and header block. */
interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

/** Parses `HTTP/1.x NNN reason\r\n(name: value\r\n)*` (latin1, without the final blank line); undefined when malformed. */
export function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    // Two different Content-Lengths (RFC 9112 §6.3): not ours to guess.
    if (prev !== undefined && name === 'content-length' && prev !== value) return undefined;
    headers.set(name, prev !== undefined && name !== 'content-length' ? `${prev}, ${value}` : value);
  }
  return { status: Number(m[1]), headers };
}

/**
 * A blob GET in progress: `outcome` settles once the body has been
 * streamed or the caller should fall back; `pause`/`resume` are the sink's
 * flow control; `abort` stops it (the sink gets no more calls).
 */
export class BlobGet {
  readonly outcome: Promise<BlobGetOutcome>;
  private settle!: (o: BlobGetOutcome) => void;
  private socket: net.Socket | undefined;
  private aborted = false;
  private readonly buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

  constructor(
    private readonly request: BlobGetRequest,
    private readonly sink: BlobGetSink,
  ) {
    this.outcome = new Promise((resolve) => (this.settle = resolve));
    this.hop(request.url, 0);
  }

  /** Stops reading from the socket (back pressure). */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** Stops the request; the sink gets no more calls. */
  abort(): void {
    this.aborted = true;
    this.socket?.destroy();
  }

  private hop(url: string, hops: number): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      this.settle({ kind: 'fallback', reason: `not a URL: ${url}` });
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      this.settle({ kind: 'fallback', reason: `unsupported scheme ${u.protocol}` });
      return;
    }
    const firstHost = new URL(this.request.url).host;
    const https = u.protocol === 'https:';
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (https ? 443 : 80));
    let state: 'connecting' | 'head' | 'body' | 'done' = 'connecting';
    let head = Buffer.alloc(0);
    let length = 0;
    let received = 0;
    const finish = (o: BlobGetOutcome): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(connectTimer);
      socket.destroy();
      this.settle(o);
    };
    const failBody = (err: Error): void => {
      if (state !== 'body') return;
      state = 'done';
      socket.destroy();
      if (!this.aborted) this.sink.error(err);
      this.settle({ kind: 'streamed' });
    };
    const onHead = (h: ResponseHead, rest: Buffer, restStart: number, restEnd: number): void => {
      if (REDIRECTS.has(h.status) && h.headers.has('location')) {
        if (hops + 1 > MAX_REDIRECTS) return finish({ kind: 'fallback', reason: 'too many redirects' });
        const next = new URL(h.headers.get('location')!, u).toString();
        state = 'done';
        clearTimeout(connectTimer);
        socket.destroy();
        this.hop(next, hops + 1);
        return;
      }
      if (h.status !== 200) return finish({ kind: 'fallback', reason: `HTTP ${h.status}` });
      const te = h.headers.get('transfer-encoding');
      if (te !== undefined && te.toLowerCase() !== 'identity') return finish({ kind: 'fallback', reason: `transfer-encoding ${te}` });
      if (h.headers.has('content-encoding') && h.headers.get('content-encoding')!.toLowerCase() !== 'identity') return finish({ kind: 'fallback', reason: 'content-encoding' });
      const cl = h.headers.get('content-length');
      if (cl === undefined || !/^\d{1,15}$/.test(cl)) return finish({ kind: 'fallback', reason: 'no Content-Length' });
      length = Number(cl);
      state = 'body';
      if (!this.sink.start(length)) {
        state = 'done';
        socket.destroy();
        this.settle({ kind: 'streamed' });
        return;
      }
      body(rest, restStart, restEnd);
    };
    const body = (buf: Buffer, start: number, end: number): void => {
      const n = Math.min(end - start, length - received);
      if (n > 0) {
        received += n;
        this.sink.data(buf, start, start + n);
      }
      if (state === 'body' && received === length) {
        state = 'done';
        socket.destroy();
        if (!this.aborted) this.sink.end();
        this.settle({ kind: 'streamed' });
      }
    };
    const onRead = (n: number, buf: Uint8Array): boolean => {
      if (this.aborted || state === 'done') return false;
      const b = buf as Buffer;
      if (state === 'body') {
        body(b, 0, n);
        return true;
      }
      head = Buffer.concat([head, b.subarray(0, n)]);
      const at = head.indexOf('\r\n\r\n');
      if (at < 0 ? head.length > MAX_HEADER_BYTES : at > MAX_HEADER_BYTES) {
        finish({ kind: 'fallback', reason: 'response headers over the limit' });
        return false;
      }
      if (at < 0) return true;
      const h = parseResponseHead(head.toString('latin1', 0, at));
      if (!h) {
        finish({ kind: 'fallback', reason: 'malformed response head' });
        return false;
      }
      const extra = head.subarray(at + 4);
      onHead(h, extra, 0, extra.length);
      return true;
    };
    const onread = { buffer: this.buffer, callback: onRead };
    const socket: net.Socket = https
      ? tls.connect({ host: hostname, port, servername: net.isIP(hostname) ? undefined : hostname, rejectUnauthorized: !this.request.insecure, ca: deferredExtraCa(), ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
      : net.connect({ host: hostname, port, onread });
    this.socket = socket;
    const connectTimer = setTimeout(() => finish({ kind: 'fallback', reason: 'connect timeout' }), this.request.connectTimeoutMs);
    socket.setTimeout(this.request.idleTimeoutMs, () => {
      if (state === 'body') failBody(new Error(`no data for ${this.request.idleTimeoutMs} ms`));
      else finish({ kind: 'fallback', reason: 'response timeout' });
    });
    socket.once(https ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      if (state !== 'connecting') return;
      state = 'head';
      const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'User-Agent: peapod', 'Accept-Encoding: identity', 'Connection: close'];
      if (this.request.authorization && u.host === firstHost) lines.push(`Authorization: ${this.request.authorization}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('error', (err) => {
      if (state === 'body') failBody(err);
      else finish({ kind: 'fallback', reason: err.message });
    });
    socket.on('close', () => {
      if (state === 'body') failBody(new Error('the download was cut off'));
      else finish({ kind: 'fallback', reason: 'connection closed before a response' });
    });
  }
}
