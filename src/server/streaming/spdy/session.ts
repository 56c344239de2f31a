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
 * receive window. We always credit the peer with WINDOW_UPDATE frames as the
 * reader consumes data. Sending, however, only waits for window once the peer
 * has shown it does SPDY/3.1 flow control (it sent a WINDOW_UPDATE or a
 * SETTINGS INITIAL_WINDOW_SIZE): moby/spdystream, which the kubelet and
 * crictl use, never sends WINDOW_UPDATE, so enforcing windows against it
 * would stall every stream after 64 KiB. For the same reason data beyond our
 * receive window is accepted rather than answered with FLOW_CONTROL_ERROR.
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

/** The transport a session runs on (a net.Socket, or any duplex byte stream). */
export type Transport = Duplex;

export interface SpdySessionOptions {
  /** `server` accepts streams (even IDs are its own); `client` opens them. */
  role: 'server' | 'client';
  /** Close the session after this long without a frame read or written (ms); 0 = never. */
  idleTimeoutMs?: number;
  /** Client only: send SETTINGS INITIAL_WINDOW_SIZE at start, announcing SPDY/3.1 flow control. Default true. */
  announceSettings?: boolean;
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
  private consumedUncredited = 0;
  private pushedTotal = 0;
  private creditedTotal = 0;

  /** @internal Created by SpdySession only. */
  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    headers: HeaderBlock,
    sendWindow: number,
  ) {
    super({ allowHalfOpen: true });
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
      this.push(data);
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

  /** Sends WINDOW_UPDATE for data the reader has taken out of the buffer. */
  private creditConsumed(): void {
    const consumed = this.pushedTotal - this.readableLength - this.creditedTotal;
    if (consumed <= 0) return;
    this.consumedUncredited = consumed;
    if (this.consumedUncredited >= DEFAULT_WINDOW / 2 && !this.remoteClosed && !this.isReset) {
      this.creditedTotal += this.consumedUncredited;
      this.session.sendFrame({ type: 'WINDOW_UPDATE', streamId: this.id, delta: this.consumedUncredited });
      this.consumedUncredited = 0;
    }
  }

  override _read(): void {
    this.creditConsumed();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.session.writeData(this, chunk).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.localClosed && !this.isReset) {
      this.localClosed = true;
      this.session.sendFrame({ type: 'DATA', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
      this.session.maybeForget(this);
    }
    callback();
  }

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
  /** True once the peer showed it does SPDY/3.1 flow control. */
  private enforceSendWindow = false;
  private goneAway = false;
  private destroyed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleTimeoutMs: number;
  private closeTimer: NodeJS.Timeout | undefined;
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
    this.decoder = new FrameDecoder((b) => this.decompressor.decompress(b));
    this.nextStreamId = options.role === 'client' ? 1 : 2;
    this.nextPingId = options.role === 'client' ? 1 : 2;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    transport.on('data', (chunk: Buffer) => this.onBytes(chunk));
    transport.on('close', () => this.onTransportClosed('transport closed'));
    transport.on('end', () => this.onTransportClosed('transport ended'));
    transport.on('error', (err: Error) => this.onTransportClosed(`transport error: ${err.message}`));
    this.touch();
    if (options.role === 'client' && options.announceSettings !== false) {
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
    }
    if (this.transport.writableNeedDrain && !this.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.transport.off('drain', done);
          this.transport.off('close', done);
          resolve();
        };
        this.transport.on('drain', done);
        this.transport.on('close', done);
      });
    }
  }

  /** @internal Drops a stream from the table (after a reset). */
  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.pendingReplies.get(stream.id)?.reject(new Error(`SPDY stream ${stream.id} was reset (status ${stream.resetStatus})`));
    this.pendingReplies.delete(stream.id);
    this.afterStreamGone();
  }

  /** @internal Drops a stream once both halves are closed. */
  maybeForget(stream: SpdyStream): void {
    if (stream.localClosed && stream.remoteClosed) {
      if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
      this.afterStreamGone();
    }
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
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.protocolError(err instanceof Error ? err.message : String(err));
      return;
    }
    for (const frame of frames) {
      if (this.destroyed) return;
      this.touch();
      try {
        this.onFrame(frame);
      } catch (err) {
        if (err instanceof SpdyProtocolError && err.streamId) {
          this.sendFrame({ type: 'RST_STREAM', streamId: err.streamId, status: err.status });
        } else {
          this.protocolError(err instanceof Error ? err.message : String(err));
          return;
        }
      }
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
        this.sessionReceivedUncredited += frame.data.length;
        if (this.sessionReceivedUncredited >= DEFAULT_WINDOW / 2) {
          this.sendFrame({ type: 'WINDOW_UPDATE', streamId: 0, delta: this.sessionReceivedUncredited });
          this.sessionReceivedUncredited = 0;
        }
        const stream = this.streams.get(frame.streamId);
        if (!stream) {
          this.sendFrame({ type: 'RST_STREAM', streamId: frame.streamId, status: RstStatus.INVALID_STREAM });
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
          if (e.id === SettingsId.INITIAL_WINDOW_SIZE) {
            const delta = e.value - this.initialSendWindow;
            this.initialSendWindow = e.value;
            this.enforceSendWindow = true;
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
        this.enforceSendWindow = true;
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
    const stream = new SpdyStream(this, streamId, headers, this.initialSendWindow);
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
