/**
 * A SPDY/3.1 session over one socket: streams, replies, resets, pings,
 * GOAWAY, flow control and an idle timeout (SPDY Protocol draft 3.1,
 * sections 2.3 "Streams", 2.4 "Stream flow control", 2.6 "Control frames").
 *
 * Behaviour follows what the Kubernetes side (k8s.io httpstream/spdy on top
 * of moby/spdystream) does, since that is the peer we must interoperate with:
 *  - the client opens every stream with SYN_STREAM (odd IDs from the client,
 *    even from the server); the server answers each accepted stream with a
 *    SYN_REPLY carrying no headers, or refuses it with RST_STREAM;
 *  - closing the writing half sends an empty DATA frame with FLAG_FIN; a
 *    stream is gone once both halves are closed or either side sent
 *    RST_STREAM;
 *  - PINGs from the peer (the other ID parity) are echoed;
 *  - close() sends GOAWAY with the last stream ID accepted, status OK.
 *
 * Flow control: each stream and the session start with a 64 KiB send and
 * receive window. We credit the peer with stream WINDOW_UPDATE frames only as
 * the reader consumes data, so a peer that does SPDY/3.1 flow control never
 * has more than 64 KiB in flight per stream. Sending, however, only waits for
 * window once the peer has shown it does SPDY/3.1 flow control (it sent a
 * WINDOW_UPDATE or a SETTINGS INITIAL_WINDOW_SIZE): moby/spdystream, which
 * the kubelet and crictl use, never sends WINDOW_UPDATE and ignores the ones
 * it gets, so enforcing windows against it would stall every stream after
 * 64 KiB. For the same reason data beyond our receive window is accepted
 * rather than answered with FLOW_CONTROL_ERROR.
 *
 * Backpressure, for peers that ignore windows (what spdystream itself does,
 * its frame reader blocking on a full stream):
 *  - receiving: a stream buffers up to STREAM_RECEIVE_BUFFER bytes its reader
 *    has not taken; past that the session stops decoding frames and pauses
 *    the transport (the peer's writes then back up in TCP) until the reader
 *    drains the stream below it. Also paused while more than
 *    MAX_SEND_BUFFER bytes of our frames wait in the transport (a peer that
 *    sends PINGs or data for unknown streams but does not read the replies);
 *  - sending: a stream's write() calls back only once its frames are in the
 *    transport and the transport does not need 'drain', so write() returns
 *    false to a producer while the peer is slow to read.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  encodeFrame,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  Frame,
  FrameDecoder,
  GoAwayStatus,
  HeaderBlock,
  MAX_STREAM_ID,
  RstStatus,
  SettingsId,
  SpdyProtocolError,
} from './frames';
import { HeaderCompressor, HeaderDecompressor } from './header-compression';

/** The initial stream and session window of SPDY/3.1 (bytes). */
export const DEFAULT_WINDOW = 64 * 1024;
/** Largest DATA payload we send in one frame (bytes). */
const MAX_DATA_CHUNK = 16 * 1024;
/**
 * Bytes a stream buffers for its reader before the session stops reading
 * (bytes): twice the receive window, so a peer that honours the window never
 * reaches it and only peers that ignore windows are paused.
 */
export const STREAM_RECEIVE_BUFFER = 2 * DEFAULT_WINDOW;
/** Bytes of our frames waiting in the transport past which the session stops reading (bytes). */
export const MAX_SEND_BUFFER = 1024 * 1024;
/** Streams open at once per session by default; more are refused with RST_STREAM REFUSED_STREAM. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 256;
/** Decompressed header bytes the open streams of one session may hold together (bytes). */
export const MAX_SESSION_HEADER_BYTES = 1024 * 1024;

/** The transport a session runs on (a net.Socket, or any duplex byte stream). */
export type Transport = Duplex;

/** A SPDY/3.1 session's role, idle timeout and flow-control behaviour. */
export interface SpdySessionOptions {
  /** `server` accepts streams (even IDs are its own); `client` opens them. */
  role: 'server' | 'client';
  /** Close the session after this long without a frame read or written (ms); 0 = never. */
  idleTimeoutMs?: number;
  /**
   * Client only: send SETTINGS INITIAL_WINDOW_SIZE at start, announcing
   * SPDY/3.1 flow control, and hold to the server's windows from the first
   * byte. Default true.
   */
  announceSettings?: boolean;
  /**
   * False: behave like moby/spdystream, which does no flow control at all:
   * send no WINDOW_UPDATE, ignore the peer's windows. For tests. Default true.
   */
  flowControl?: boolean;
  /** Streams the peer may have open at once (DEFAULT_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams?: number;
}

/**
 * One SPDY stream as a Node duplex: read what the peer sends in DATA frames,
 * write to send DATA frames; end() sends FLAG_FIN.
 *
 * Events besides the duplex ones: `reset` (status: number) when either side
 * reset the stream. Writes after a reset are discarded, and the readable
 * side ends.
 */
export class SpdyStream extends Duplex {
  /** Headers of the SYN_STREAM that opened the stream. */
  readonly headers: HeaderBlock;
  /** Status of the RST_STREAM that ended it, if one did. */
  resetStatus: number | undefined;
  /** Headers of the peer's SYN_REPLY (streams we opened). */
  replyHeaders: HeaderBlock | undefined;
  /** True once we sent SYN_REPLY (streams the peer opened). */
  replied = false;
  /** @internal */ localClosed = false;
  /** @internal */ remoteClosed = false;
  /** @internal */ sendWindow: number;
  /** @internal */ windowWaiters: Array<() => void> = [];
  /** @internal Decompressed size of `headers` (bytes), counted against the session's bound. */
  headerBytes = 0;
  private pushedTotal = 0;
  private creditedTotal = 0;

  /** @internal Created by SpdySession only. */
  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    headers: HeaderBlock,
    sendWindow: number,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_RECEIVE_BUFFER });
    this.headers = headers;
    this.sendWindow = sendWindow;
  }

  /** The first value of a header of the opening SYN_STREAM (name matched case-insensitively). */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** True once the stream was reset by either side. */
  get isReset(): boolean {
    return this.resetStatus !== undefined;
  }

  /** Accepts a stream the peer opened: sends SYN_REPLY with `headers` (none by default). */
  reply(headers: HeaderBlock = {}): void {
    if (this.replied || this.isReset) return;
    this.replied = true;
    this.session.sendFrame({ type: 'SYN_REPLY', streamId: this.id, flags: 0, headers });
  }

  /** Resets the stream (RST_STREAM with `status`, CANCEL by default); idempotent. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.isReset) return;
    if (!this.session.isDestroyed) this.session.sendFrame({ type: 'RST_STREAM', streamId: this.id, status });
    this.onReset(status);
  }

  /** @internal The stream was reset (by us or the peer). */
  onReset(status: number): void {
    if (this.isReset) return;
    this.resetStatus = status;
    this.localClosed = true;
    this.wakeWriters();
    if (!this.remoteClosed) {
      this.remoteClosed = true;
      this.push(null);
    }
    this.session.forget(this);
    this.emit('reset', status);
  }

  /** @internal DATA arrived from the peer. */
  onData(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) {
      this.reset(RstStatus.STREAM_ALREADY_CLOSED);
      return;
    }
    if (data.length > 0) {
      this.pushedTotal += data.length;
      if (!this.push(data)) this.session.streamFull(this);
      this.creditConsumed();
    }
    if (fin) this.onRemoteFin();
  }

  /** @internal The peer closed its half (FLAG_FIN). */
  onRemoteFin(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    this.session.maybeForget(this);
  }

  /** @internal */
  wakeWriters(): void {
    for (const w of this.windowWaiters.splice(0)) w();
  }

  /** Sends WINDOW_UPDATE for data the reader has taken out of the buffer, in steps of half a window. */
  private creditConsumed(): void {
    const consumed = this.pushedTotal - this.readableLength - this.creditedTotal;
    if (consumed >= DEFAULT_WINDOW / 2 && !this.remoteClosed && !this.isReset && this.session.flowControl) {
      this.creditedTotal += consumed;
      this.session.sendFrame({ type: 'WINDOW_UPDATE', streamId: this.id, delta: consumed });
    }
  }

  /** The reader wants more: the buffer is below STREAM_RECEIVE_BUFFER. */
  override _read(): void {
    this.creditConsumed();
    this.session.streamDrained(this);
  }

  /**
   * Every way of consuming a readable (flowing mode, pipe, async iteration,
   * read()) takes data through read(); Node calls _read only once until the
   * next push, so consumption is credited here.
   */
  override read(size?: number): Buffer | string | null {
    const chunk = super.read(size) as Buffer | string | null;
    this.creditConsumed();
    if (this.readableLength < this.readableHighWaterMark) this.session.streamDrained(this);
    return chunk;
  }

  /** Node's Writable: `chunk` sent as DATA frames within the peer's flow-control window (the session's writeData); the callback once sent. */
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.session.writeData(this, chunk).then(() => callback(), callback);
  }

  /** Node's Writable: the end of our side, an empty DATA frame with FLAG_FIN (SPDY/3.1 half-close), unless closed or reset already. */
  override _final(callback: (err?: Error | null) => void): void {
    if (!this.localClosed && !this.isReset) {
      this.localClosed = true;
      this.session.sendFrame({ type: 'DATA', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
      this.session.maybeForget(this);
    }
    callback();
  }

  /** Node's Duplex: a stream destroyed before both sides closed is reset with CANCEL (RST_STREAM status 5). */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.isReset && !(this.localClosed && this.remoteClosed)) this.reset(RstStatus.CANCEL);
    callback(err);
  }
}

/**
 * A SPDY/3.1 session. Events: `stream` (SpdyStream) for each stream the peer
 * opens (server role; call `reply()` or `reset()` on it), `goaway`
 * (lastGoodStreamId, status), `close` when the transport is gone, `error`
 * is never emitted: protocol faults end the session with GOAWAY and `close`.
 */
export class SpdySession extends EventEmitter {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly decoder: FrameDecoder;
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private nextPingId: number;
  private readonly pings = new Map<number, () => void>();
  private pendingReplies = new Map<number, { resolve: (s: SpdyStream) => void; reject: (e: Error) => void }>();
  private sessionSendWindow = DEFAULT_WINDOW;
  private initialSendWindow = DEFAULT_WINDOW;
  private sessionReceivedUncredited = 0;
  /**
   * True once the peer showed it does SPDY/3.1 flow control: we then hold to
   * its windows, and it to ours, so backpressure on receiving is by window
   * (withholding WINDOW_UPDATE), never by pausing the transport, which would
   * also hold back the WINDOW_UPDATE frames our own sending waits for.
   */
  private enforceSendWindow = false;
  /** @internal False when the session does no flow control at all (options.flowControl). */
  readonly flowControl: boolean;
  private goneAway = false;
  private destroyed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleTimeoutMs: number;
  private closeTimer: NodeJS.Timeout | undefined;
  /** Streams whose reader is behind by STREAM_RECEIVE_BUFFER or more: reading is paused while any exist. */
  private readonly fullStreams = new Set<SpdyStream>();
  /** True while our frames back up in the transport past MAX_SEND_BUFFER. */
  private sendBlocked = false;
  private decodeScheduled = false;
  private transportPaused = false;
  private headerBytesHeld = 0;
  private readonly maxConcurrentStreams: number;
  /** Why the session ended, when it ended abnormally. */
  closeReason: string | undefined;

  /**
   * @param transport the connected socket (after the HTTP upgrade)
   * @param options role, idle timeout
   * @param initialData bytes already read past the HTTP upgrade
   */
  constructor(
    private readonly transport: Transport,
    private readonly options: SpdySessionOptions,
    initialData?: Buffer,
  ) {
    super();
    this.decoder = new FrameDecoder((b, id) => this.decompressor.decompress(b, id));
    this.nextStreamId = options.role === 'client' ? 1 : 2;
    this.nextPingId = options.role === 'client' ? 1 : 2;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
    transport.on('data', (chunk: Buffer) => this.onBytes(chunk));
    transport.on('close', () => this.onTransportClosed('transport closed'));
    transport.on('end', () => this.onTransportClosed('transport ended'));
    transport.on('error', (err: Error) => this.onTransportClosed(`transport error: ${err.message}`));
    this.touch();
    this.flowControl = options.flowControl !== false;
    if (options.role === 'client' && options.announceSettings !== false && this.flowControl) {
      this.enforceSendWindow = true;
      this.sendFrame({ type: 'SETTINGS', flags: 0, entries: [{ flags: 0, id: SettingsId.INITIAL_WINDOW_SIZE, value: DEFAULT_WINDOW }] });
    }
    if (initialData && initialData.length > 0) this.onBytes(initialData);
  }

  /** True once the session is over (transport closed or destroyed). */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Bytes received and held by the session (bytes): read by the transport
   * but not decoded, plus what the streams buffer for their readers.
   */
  get receiveBufferedBytes(): number {
    let n = this.decoder.pendingBytes + this.transport.readableLength;
    for (const s of this.streams.values()) n += s.readableLength;
    return n;
  }

  /** Bytes waiting to be sent (bytes): in the streams' write buffers and in the transport. */
  get sendBufferedBytes(): number {
    let n = this.transport.writableLength;
    for (const s of this.streams.values()) n += s.writableLength;
    return n;
  }

  /** True while the session has stopped reading the transport (backpressure). */
  get readPaused(): boolean {
    return this.fullStreams.size > 0 || this.sendBlocked;
  }

  /** Largest decompressed header block seen so far (bytes), at most MAX_HEADER_BLOCK. */
  get peakHeaderBlockBytes(): number {
    return this.decompressor.peakBlockBytes;
  }

  /** @internal Encodes and writes one frame; a no-op once the session is destroyed. */
  sendFrame(frame: Frame): void {
    if (this.destroyed) return;
    this.touch();
    this.transport.write(encodeFrame(frame, (b) => this.compressor.compress(b)));
  }

  /**
   * Opens a stream (SYN_STREAM) and waits for the peer's SYN_REPLY.
   * @param headers the stream's headers (names are lowercased on the wire)
   * @param timeoutMs how long to wait for the reply (ms)
   * @throws Error when the peer resets the stream, the session ends or the
   *   reply does not come in time.
   */
  createStream(headers: HeaderBlock, timeoutMs = 30_000): Promise<SpdyStream> {
    if (this.destroyed || this.goneAway) return Promise.reject(new Error('SPDY session is closed'));
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) return Promise.reject(new Error('SPDY stream IDs exhausted'));
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, this.initialSendWindow);
    this.streams.set(id, stream);
    return new Promise<SpdyStream>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingReplies.delete(id);
        stream.reset(RstStatus.CANCEL);
        reject(new Error(`no SYN_REPLY for stream ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingReplies.set(id, {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sendFrame({ type: 'SYN_STREAM', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers });
    });
  }

  /** Sends a PING and resolves with the round trip time (ms). */
  ping(timeoutMs = 10_000): Promise<number> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    const started = Date.now();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new Error(`no PING reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, () => {
        clearTimeout(timer);
        resolve(Date.now() - started);
      });
      this.sendFrame({ type: 'PING', id });
    });
  }

  /**
   * Ends the session politely: GOAWAY (status OK, last stream accepted),
   * then closes the transport once every stream is closed or reset, or after
   * `graceMs` at the latest.
   */
  close(graceMs = 10_000): void {
    if (this.destroyed) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.sendFrame({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: GoAwayStatus.OK });
    }
    if (this.streams.size === 0) {
      this.endTransport();
      return;
    }
    this.closeTimer ??= setTimeout(() => this.destroy('close grace period over'), graceMs);
  }

  /** Ends the session at once: every stream reset (locally), the transport destroyed. */
  destroy(reason?: string): void {
    if (this.destroyed) return;
    this.closeReason ??= reason;
    for (const s of [...this.streams.values()]) s.onReset(RstStatus.CANCEL);
    this.destroyed = true;
    this.transport.destroy();
    this.finish();
  }

  /** @internal Sends DATA for a write, in frames no larger than the windows allow. */
  async writeData(stream: SpdyStream, chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (stream.isReset || this.destroyed) return;
      if (stream.localClosed) throw new Error(`write after FIN on SPDY stream ${stream.id}`);
      let size = Math.min(MAX_DATA_CHUNK, chunk.length - off);
      if (this.enforceSendWindow) {
        const available = Math.min(stream.sendWindow, this.sessionSendWindow);
        if (available <= 0) {
          await new Promise<void>((resolve) => stream.windowWaiters.push(resolve));
          continue;
        }
        size = Math.min(size, available);
      }
      stream.sendWindow -= size;
      this.sessionSendWindow -= size;
      this.sendFrame({ type: 'DATA', streamId: stream.id, flags: 0, data: chunk.subarray(off, off + size) });
      off += size;
      // The peer is slow to read: hold the rest (and the writer's callback) until the transport drains.
      if (this.transport.writableNeedDrain) await this.transportDrained();
    }
  }

  /** Resolves when the transport emits 'drain' or closes. */
  private transportDrained(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.transport.off('drain', done);
        this.transport.off('close', done);
        resolve();
      };
      this.transport.on('drain', done);
      this.transport.on('close', done);
    });
  }

  /** @internal A stream's buffer reached STREAM_RECEIVE_BUFFER: stop reading until its reader catches up. */
  streamFull(stream: SpdyStream): void {
    if (this.destroyed || stream.isReset) return;
    if (this.enforceSendWindow) {
      // A peer that does flow control has at most one window (64 KiB) of unconsumed data: it sent past it.
      stream.reset(RstStatus.FLOW_CONTROL_ERROR);
      return;
    }
    this.fullStreams.add(stream);
    this.pauseTransport();
  }

  /** The peer showed it does SPDY/3.1 flow control: hold to its windows; receiving is bounded by ours. */
  private peerDoesFlowControl(): void {
    if (this.enforceSendWindow || !this.flowControl) return;
    this.enforceSendWindow = true;
    if (this.fullStreams.size === 0) return;
    this.fullStreams.clear();
    this.scheduleDecode();
  }

  /** Our frames back up in the transport (a peer that sends but does not read): stop reading until it drains. */
  private blockOnSend(): void {
    if (this.sendBlocked) return;
    this.sendBlocked = true;
    void this.transportDrained().then(() => {
      this.sendBlocked = false;
      this.scheduleDecode();
    });
  }

  private pauseTransport(): void {
    if (this.transportPaused) return;
    this.transportPaused = true;
    this.transport.pause();
  }

  /** @internal A stream's reader wants more data. */
  streamDrained(stream: SpdyStream): void {
    if (this.fullStreams.delete(stream)) this.scheduleDecode();
  }

  /** Resumes decoding (outside the caller's stack) once nothing holds the session paused. */
  private scheduleDecode(): void {
    if (this.decodeScheduled || this.readPaused || this.destroyed) return;
    this.decodeScheduled = true;
    process.nextTick(() => {
      this.decodeScheduled = false;
      this.decodeFrames();
    });
  }

  /** @internal Drops a stream from the table (after a reset). */
  forget(stream: SpdyStream): void {
    this.dropStream(stream);
    if (this.fullStreams.delete(stream)) this.scheduleDecode();
    this.pendingReplies.get(stream.id)?.reject(new Error(`SPDY stream ${stream.id} was reset (status ${stream.resetStatus})`));
    this.pendingReplies.delete(stream.id);
    this.afterStreamGone();
  }

  /** @internal Drops a stream once both halves are closed. */
  maybeForget(stream: SpdyStream): void {
    if (stream.localClosed && stream.remoteClosed) {
      this.dropStream(stream);
      this.afterStreamGone();
    }
  }

  private dropStream(stream: SpdyStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.headerBytesHeld -= stream.headerBytes;
  }

  private afterStreamGone(): void {
    if (this.goneAway && this.streams.size === 0 && !this.destroyed && this.closeTimer !== undefined) this.endTransport();
  }

  private endTransport(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.transport.end();
    // The peer closes its side in turn; if it does not, do not linger.
    setTimeout(() => this.destroy(), 5000).unref();
  }

  private touch(): void {
    if (this.idleTimeoutMs <= 0 || this.destroyed) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.onIdle(), this.idleTimeoutMs);
  }

  private onIdle(): void {
    this.closeReason = `idle for ${this.idleTimeoutMs} ms`;
    for (const s of [...this.streams.values()]) s.reset(RstStatus.CANCEL);
    if (!this.goneAway) {
      this.goneAway = true;
      this.sendFrame({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: GoAwayStatus.OK });
    }
    this.destroy();
  }

  private onTransportClosed(reason: string): void {
    if (this.destroyed) return;
    this.closeReason ??= reason;
    this.destroyed = true;
    for (const s of [...this.streams.values()]) s.onReset(RstStatus.CANCEL);
    this.transport.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    for (const p of this.pendingReplies.values()) p.reject(new Error('SPDY session closed'));
    this.pendingReplies.clear();
    this.emit('close', this.closeReason);
  }

  private onBytes(chunk: Buffer): void {
    if (this.destroyed) return;
    this.decoder.append(chunk);
    this.decodeFrames();
  }

  /**
   * Handles frames one at a time until the bytes run out or backpressure
   * pauses the session (the rest stays in the decoder), then lets the
   * transport flow again if nothing holds it.
   */
  private decodeFrames(): void {
    while (!this.destroyed && !this.readPaused) {
      let frame: Frame | undefined;
      try {
        frame = this.decoder.next();
        if (!frame) break;
        this.touch();
        this.onFrame(frame);
        if (this.transport.writableLength > MAX_SEND_BUFFER) this.blockOnSend();
      } catch (err) {
        if (err instanceof SpdyProtocolError && err.streamId) {
          this.sendFrame({ type: 'RST_STREAM', streamId: err.streamId, status: err.status });
          if (!err.fatal) continue;
        }
        this.protocolError(err instanceof Error ? err.message : String(err));
        return;
      }
    }
    if (this.destroyed) return;
    if (this.readPaused) this.pauseTransport();
    else if (this.transportPaused) {
      this.transportPaused = false;
      this.transport.resume();
    }
  }

  /** A session error: GOAWAY PROTOCOL_ERROR, then the transport is dropped. */
  private protocolError(message: string): void {
    this.closeReason = `protocol error: ${message}`;
    if (!this.goneAway) {
      this.goneAway = true;
      this.sendFrame({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: GoAwayStatus.PROTOCOL_ERROR });
    }
    this.transport.end();
    this.destroy();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'SYN_STREAM':
        return this.onSynStream(frame.streamId, frame.flags, frame.headers);
      case 'SYN_REPLY': {
        const stream = this.streams.get(frame.streamId);
        const pending = this.pendingReplies.get(frame.streamId);
        if (!stream || !pending) {
          if (stream?.replyHeaders) throw new SpdyProtocolError(`second SYN_REPLY on stream ${frame.streamId}`, RstStatus.STREAM_IN_USE, frame.streamId);
          return;
        }
        this.pendingReplies.delete(frame.streamId);
        stream.replyHeaders = frame.headers;
        pending.resolve(stream);
        if (frame.flags & FLAG_FIN) stream.onRemoteFin();
        return;
      }
      case 'HEADERS': {
        const stream = this.streams.get(frame.streamId);
        if (stream && frame.flags & FLAG_FIN) stream.onRemoteFin();
        return;
      }
      case 'DATA': {
        // The session window bounds nothing here (each stream's window does), so it is credited on receipt.
        this.sessionReceivedUncredited += frame.data.length;
        if (this.sessionReceivedUncredited >= DEFAULT_WINDOW / 2 && this.flowControl) {
          this.sendFrame({ type: 'WINDOW_UPDATE', streamId: 0, delta: this.sessionReceivedUncredited });
          this.sessionReceivedUncredited = 0;
        }
        const stream = this.streams.get(frame.streamId);
        if (!stream) {
          // Data still in flight for a stream that is closed or reset is dropped; a stream never opened is an error (once per frame, not per piece).
          if (!frame.continued && !this.wasOpened(frame.streamId)) this.sendFrame({ type: 'RST_STREAM', streamId: frame.streamId, status: RstStatus.INVALID_STREAM });
          return;
        }
        stream.onData(frame.data, (frame.flags & FLAG_FIN) !== 0);
        return;
      }
      case 'RST_STREAM':
        this.streams.get(frame.streamId)?.onReset(frame.status);
        return;
      case 'SETTINGS':
        for (const e of frame.entries) {
          if (e.id === SettingsId.INITIAL_WINDOW_SIZE && this.flowControl) {
            const delta = e.value - this.initialSendWindow;
            this.initialSendWindow = e.value;
            this.peerDoesFlowControl();
            for (const s of this.streams.values()) {
              s.sendWindow += delta;
              s.wakeWriters();
            }
          }
        }
        return;
      case 'PING': {
        const mine = (frame.id % 2 === 1) === (this.options.role === 'client');
        if (mine) {
          this.pings.get(frame.id)?.();
          this.pings.delete(frame.id);
        } else {
          this.sendFrame({ type: 'PING', id: frame.id });
        }
        return;
      }
      case 'GOAWAY':
        this.goneAway = true;
        this.emit('goaway', frame.lastGoodStreamId, frame.status);
        // Streams we opened above the last one the peer accepted will never be served.
        for (const s of [...this.streams.values()]) {
          if ((s.id % 2 === 1) === (this.options.role === 'client') && s.id > frame.lastGoodStreamId) s.onReset(RstStatus.REFUSED_STREAM);
        }
        if (this.streams.size === 0) this.endTransport();
        return;
      case 'WINDOW_UPDATE': {
        if (!this.flowControl) return;
        this.peerDoesFlowControl();
        if (frame.streamId === 0) {
          this.sessionSendWindow += frame.delta;
          if (this.sessionSendWindow > MAX_STREAM_ID) throw new SpdyProtocolError('session window over 2^31-1');
          for (const s of this.streams.values()) s.wakeWriters();
        } else {
          const stream = this.streams.get(frame.streamId);
          if (!stream) return;
          stream.sendWindow += frame.delta;
          if (stream.sendWindow > MAX_STREAM_ID) throw new SpdyProtocolError(`stream ${frame.streamId} window over 2^31-1`, RstStatus.FLOW_CONTROL_ERROR, frame.streamId);
          stream.wakeWriters();
        }
        return;
      }
      case 'UNKNOWN':
        return; // the spec: ignore control frames of unknown type
    }
  }

  /** True when `streamId` names a stream this session opened or accepted at some point. */
  private wasOpened(streamId: number): boolean {
    const peers = (streamId % 2 === 1) === (this.options.role === 'server');
    return streamId > 0 && (peers ? streamId <= this.lastPeerStreamId : streamId < this.nextStreamId);
  }

  private onSynStream(streamId: number, flags: number, headers: HeaderBlock): void {
    const peerParity = this.options.role === 'server' ? 1 : 0;
    if (streamId % 2 !== peerParity || streamId <= this.lastPeerStreamId) {
      throw new SpdyProtocolError(`SYN_STREAM with stream ID ${streamId} after ${this.lastPeerStreamId}`);
    }
    this.lastPeerStreamId = streamId;
    if (this.goneAway) {
      this.sendFrame({ type: 'RST_STREAM', streamId, status: RstStatus.REFUSED_STREAM });
      return;
    }
    const headerBytes = headerBlockSize(headers);
    if (this.streams.size >= this.maxConcurrentStreams || this.headerBytesHeld + headerBytes > MAX_SESSION_HEADER_BYTES) {
      this.sendFrame({ type: 'RST_STREAM', streamId, status: RstStatus.REFUSED_STREAM });
      return;
    }
    const stream = new SpdyStream(this, streamId, headers, this.initialSendWindow);
    stream.headerBytes = headerBytes;
    this.headerBytesHeld += headerBytes;
    this.streams.set(streamId, stream);
    if (flags & FLAG_UNIDIRECTIONAL) stream.localClosed = true;
    if (flags & FLAG_FIN) stream.onRemoteFin();
    if (this.listenerCount('stream') === 0) {
      stream.reset(RstStatus.REFUSED_STREAM);
      return;
    }
    this.emit('stream', stream);
  }
}

/** Bytes of a decoded header block's names and values. */
function headerBlockSize(headers: HeaderBlock): number {
  let n = 0;
  for (const [name, values] of Object.entries(headers)) {
    n += name.length;
    for (const v of values) n += v.length;
  }
  return n;
}
