/**
 * SPDY/3.1 frames and their byte encoding (SPDY Protocol draft 3.1,
 * section 2.2 "Framing" and 2.6 "Control frames").
 *
 * Every frame starts with 8 bytes. A control frame: the C bit set, a 15-bit
 * version (3), a 16-bit type, 8 bits of flags and a 24-bit payload length. A
 * data frame: the C bit clear, a 31-bit stream ID, 8 bits of flags and a
 * 24-bit length. Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are a 32-bit
 * count of name/value pairs, each name and value prefixed by a 32-bit length,
 * several values of one name joined by NUL; the block is compressed by one
 * zlib stream per direction per connection (see header-compression.ts).
 */

/** The protocol version carried by every control frame. */
export const SPDY_VERSION = 3;

/** Control frame types (section 2.6). */
export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** FLAG_FIN: the sender's last frame on the stream (data and stream control frames). */
export const FLAG_FIN = 0x01;
/** FLAG_UNIDIRECTIONAL on SYN_STREAM: the recipient must not send on the stream. */
export const FLAG_UNIDIRECTIONAL = 0x02;
/** FLAG_SETTINGS_CLEAR_SETTINGS on SETTINGS. */
export const FLAG_SETTINGS_CLEAR_SETTINGS = 0x01;

/** RST_STREAM status codes (section 2.6.3). */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GOAWAY status codes (section 2.6.6). */
export const GoAwayStatus = {
  OK: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
} as const;

/** SETTINGS IDs (section 2.6.4). */
export const SettingsId = {
  UPLOAD_BANDWIDTH: 1,
  DOWNLOAD_BANDWIDTH: 2,
  ROUND_TRIP_TIME: 3,
  MAX_CONCURRENT_STREAMS: 4,
  CURRENT_CWND: 5,
  DOWNLOAD_RETRANS_RATE: 6,
  INITIAL_WINDOW_SIZE: 7,
  CLIENT_CERTIFICATE_VECTOR_SIZE: 8,
} as const;

/** Largest payload a frame's 24-bit length can carry (bytes). */
export const MAX_FRAME_PAYLOAD = 0xffffff;
/**
 * Largest decompressed header block we accept (bytes): 256 KiB. The kubelet
 * and client-go send a few hundred bytes (streamType, port, requestID); Go's
 * net/http allows 1 MiB of request headers (http.DefaultMaxHeaderBytes) and
 * moby/spdystream sets no bound at all. A block that inflates past this is
 * refused with RST_STREAM FRAME_TOO_LARGE and, since the shared zlib context
 * is then out of step with the peer's, GOAWAY (draft 3.1 §2.6.3).
 */
export const MAX_HEADER_BLOCK = 256 * 1024;
/**
 * Largest control frame payload we accept (bytes): a header block's bound
 * plus room for what deflate can add to incompressible data (5 bytes per
 * stored block, the sync flush marker) and the frame's fixed fields. A larger
 * control frame ends the session before its bytes are buffered.
 */
export const MAX_CONTROL_FRAME_PAYLOAD = MAX_HEADER_BLOCK + 4096;
/** Largest stream ID (31 bits). */
export const MAX_STREAM_ID = 0x7fffffff;

/** Header name/value pairs: lowercase names, each with one or more values. */
export type HeaderBlock = Record<string, string[]>;

/**
 * DATA, or a piece of it: the decoder hands a DATA frame's payload on as it
 * arrives instead of buffering up to 16 MiB. FLAG_FIN is set on the last
 * piece only; `continued` marks every piece after the first.
 */
export interface DataFrame {
  type: 'DATA';
  streamId: number;
  flags: number;
  data: Buffer;
  continued?: true;
}
/** SYN_STREAM (SPDY/3.1 section 2.6.1): opens stream `streamId` with its headers. */
export interface SynStreamFrame {
  type: 'SYN_STREAM';
  streamId: number;
  associatedStreamId: number;
  /** 0 (highest) to 7 (lowest). */
  priority: number;
  slot: number;
  flags: number;
  headers: HeaderBlock;
}
/** SYN_REPLY (section 2.6.2): the recipient accepts stream `streamId`, with its response headers. */
export interface SynReplyFrame {
  type: 'SYN_REPLY';
  streamId: number;
  flags: number;
  headers: HeaderBlock;
}
/** RST_STREAM (section 2.6.3): stream `streamId` ends abnormally with `status` (RstStatus). */
export interface RstStreamFrame {
  type: 'RST_STREAM';
  streamId: number;
  status: number;
}
/** One ID/value pair of a SETTINGS frame, with its flags (persist, persisted). */
export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}
/** SETTINGS (section 2.6.4): the sender's session parameters, e.g. INITIAL_WINDOW_SIZE. */
export interface SettingsFrame {
  type: 'SETTINGS';
  flags: number;
  entries: SettingsEntry[];
}
/** PING (section 2.6.5): echoed by the recipient with the same `id`. */
export interface PingFrame {
  type: 'PING';
  id: number;
}
/** GOAWAY (section 2.6.6): no new streams after `lastGoodStreamId`; `status` says why. */
export interface GoAwayFrame {
  type: 'GOAWAY';
  lastGoodStreamId: number;
  status: number;
}
/** HEADERS (section 2.6.7): more headers for stream `streamId`. */
export interface HeadersFrame {
  type: 'HEADERS';
  streamId: number;
  flags: number;
  headers: HeaderBlock;
}
/** WINDOW_UPDATE (section 2.6.8): the sender can take `delta` more bytes on the stream (or the session). */
export interface WindowUpdateFrame {
  type: 'WINDOW_UPDATE';
  /** 0 for the session window (SPDY/3.1). */
  streamId: number;
  /** Bytes added to the window, 1 to 2^31-1. */
  delta: number;
}
/** A control frame of a type this implementation does not know; the spec says to ignore it. */
export interface UnknownControlFrame {
  type: 'UNKNOWN';
  frameType: number;
  flags: number;
  payload: Buffer;
}

/** Any frame this implementation reads or writes, by its `type`. */
export type Frame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoAwayFrame
  | HeadersFrame
  | WindowUpdateFrame
  | UnknownControlFrame;

/**
 * A violation of the framing rules that ends the session (GOAWAY
 * PROTOCOL_ERROR), e.g. a wrong control frame length, a bad header block or
 * an unsupported version. `streamId` names the stream when the fault is
 * confined to one (then RST_STREAM with `status` is enough).
 */
export class SpdyProtocolError extends Error {
  /**
   * @param message what was wrong
   * @param status RST_STREAM status to answer with when `streamId` is set
   * @param streamId the stream the fault is confined to, if it is
   * @param fatal true when the session cannot go on even though the fault
   *   names a stream (the shared zlib context is out of step): RST_STREAM,
   *   then GOAWAY
   */
  constructor(
    message: string,
    readonly status: number = RstStatus.PROTOCOL_ERROR,
    readonly streamId?: number,
    readonly fatal = false,
  ) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

/**
 * Serializes a header block (uncompressed): a 32-bit pair count, then for
 * each pair a 32-bit length and the name (lowercased), a 32-bit length and
 * the values joined by NUL.
 */
export function encodeHeaderBlock(headers: HeaderBlock): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, values] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

/**
 * Parses an uncompressed header block.
 * @throws SpdyProtocolError for a truncated block, an empty or repeated name,
 *   or bytes left over.
 */
export function decodeHeaderBlock(block: Buffer, streamId: number): HeaderBlock {
  let off = 0;
  const need = (n: number): void => {
    if (off + n > block.length) throw new SpdyProtocolError('truncated header block', RstStatus.PROTOCOL_ERROR, streamId);
  };
  need(4);
  const count = block.readUInt32BE(off);
  off += 4;
  const headers: HeaderBlock = {};
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = block.readUInt32BE(off);
    off += 4;
    need(nl);
    const name = block.toString('utf8', off, off + nl);
    off += nl;
    need(4);
    const vl = block.readUInt32BE(off);
    off += 4;
    need(vl);
    const value = block.toString('utf8', off, off + vl);
    off += vl;
    if (name.length === 0) throw new SpdyProtocolError('empty header name', RstStatus.PROTOCOL_ERROR, streamId);
    const key = name.toLowerCase();
    if (headers[key]) throw new SpdyProtocolError(`header "${key}" appears twice`, RstStatus.PROTOCOL_ERROR, streamId);
    headers[key] = value.split('\0');
  }
  if (off !== block.length) throw new SpdyProtocolError('bytes after the header block', RstStatus.PROTOCOL_ERROR, streamId);
  return headers;
}

/** Writes the 8-byte control frame header. */
function controlHeader(type: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`control frame payload of ${length} bytes exceeds 24 bits`);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags & 0xff) << 24) >>> 0 | length, 4);
  return h;
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/**
 * Encodes one frame to bytes.
 * @param frame the frame
 * @param compress compresses a serialized header block with the connection's
 *   outbound zlib context (called once per SYN_STREAM, SYN_REPLY, HEADERS, in
 *   the order frames go on the wire)
 * @throws RangeError for a payload over 2^24-1 bytes or an ID over 2^31-1.
 */
export function encodeFrame(frame: Frame, compress: (block: Buffer) => Buffer): Buffer {
  const checkId = (id: number): number => {
    if (!Number.isInteger(id) || id < 0 || id > MAX_STREAM_ID) throw new RangeError(`stream ID ${id} is out of range`);
    return id;
  };
  switch (frame.type) {
    case 'DATA': {
      if (frame.data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`data frame of ${frame.data.length} bytes exceeds 24 bits`);
      return Buffer.concat([u32(checkId(frame.streamId), (((frame.flags & 0xff) << 24) >>> 0) | frame.data.length), frame.data]);
    }
    case 'SYN_STREAM': {
      const block = compress(encodeHeaderBlock(frame.headers));
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(checkId(frame.streamId), 0);
      fixed.writeUInt32BE(checkId(frame.associatedStreamId), 4);
      fixed.writeUInt8((frame.priority & 0x7) << 5, 8);
      fixed.writeUInt8(frame.slot & 0xff, 9);
      return Buffer.concat([controlHeader(FrameType.SYN_STREAM, frame.flags, 10 + block.length), fixed, block]);
    }
    case 'SYN_REPLY':
    case 'HEADERS': {
      const block = compress(encodeHeaderBlock(frame.headers));
      const type = frame.type === 'SYN_REPLY' ? FrameType.SYN_REPLY : FrameType.HEADERS;
      return Buffer.concat([controlHeader(type, frame.flags, 4 + block.length), u32(checkId(frame.streamId)), block]);
    }
    case 'RST_STREAM':
      return Buffer.concat([controlHeader(FrameType.RST_STREAM, 0, 8), u32(checkId(frame.streamId), frame.status)]);
    case 'SETTINGS': {
      const body = [u32(frame.entries.length)];
      for (const e of frame.entries) body.push(u32((((e.flags & 0xff) << 24) >>> 0) | (e.id & 0xffffff), e.value));
      const payload = Buffer.concat(body);
      return Buffer.concat([controlHeader(FrameType.SETTINGS, frame.flags, payload.length), payload]);
    }
    case 'PING':
      return Buffer.concat([controlHeader(FrameType.PING, 0, 4), u32(frame.id)]);
    case 'GOAWAY':
      return Buffer.concat([controlHeader(FrameType.GOAWAY, 0, 8), u32(checkId(frame.lastGoodStreamId), frame.status)]);
    case 'WINDOW_UPDATE':
      if (!Number.isInteger(frame.delta) || frame.delta < 1 || frame.delta > MAX_STREAM_ID) throw new RangeError(`window delta ${frame.delta} is out of range`);
      return Buffer.concat([controlHeader(FrameType.WINDOW_UPDATE, 0, 8), u32(checkId(frame.streamId), frame.delta)]);
    case 'UNKNOWN':
      return Buffer.concat([controlHeader(frame.frameType, frame.flags, frame.payload.length), frame.payload]);
  }
}

/**
 * Splits a byte stream into frames. Feed it whatever the socket delivers
 * (`append`), then take frames one at a time (`next`), so the caller can stop
 * between frames and leave the rest unread; `push` does both.
 *
 * Bounds: a control frame is held until complete, at most `maxControlPayload`
 * bytes (a larger one is refused from its 8-byte header on); a DATA frame is
 * never held whole: its payload is handed on in pieces as it arrives (see
 * DataFrame), so any length the 24-bit field allows is accepted, as
 * moby/spdystream sends a whole Write as one frame of up to 16 MiB.
 *
 * Header blocks are decompressed in wire order with the connection's inbound
 * zlib context (`decompress`), as the spec requires even for frames the
 * receiver then ignores.
 */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  /** The DATA frame whose payload is being handed on: its stream, flags and bytes still to come. */
  private data: { streamId: number; flags: number; remaining: number; continued: boolean } | undefined;

  /**
   * @param decompress inflates one compressed header block (inbound
   *   context) of the named stream; throws SpdyProtocolError (fatal) past its bound
   * @param maxControlPayload largest control frame payload accepted (bytes);
   *   larger frames are a session error (FRAME_TOO_LARGE)
   */
  constructor(
    private readonly decompress: (compressed: Buffer, streamId: number) => Buffer,
    private readonly maxControlPayload = MAX_CONTROL_FRAME_PAYLOAD,
  ) {}

  /** Appends bytes read from the transport. */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
  }

  /**
   * The next complete frame (or DATA piece), or undefined until more bytes come.
   * @throws SpdyProtocolError on a malformed frame; the decoder is then unusable.
   */
  next(): Frame | undefined {
    if (this.data) {
      const d = this.data;
      if (this.buffered.length === 0) return undefined;
      const take = Math.min(d.remaining, this.buffered.length);
      // A copy: a small piece must not pin the whole read buffer it came in.
      const piece = Buffer.from(this.buffered.subarray(0, take));
      this.buffered = this.buffered.subarray(take);
      d.remaining -= take;
      const last = d.remaining === 0;
      if (last) this.data = undefined;
      const frame: DataFrame = { type: 'DATA', streamId: d.streamId, flags: last ? d.flags : d.flags & ~FLAG_FIN, data: piece };
      if (d.continued) frame.continued = true;
      d.continued = true;
      return frame;
    }
    if (this.buffered.length < 8) return undefined;
    const first = this.buffered.readUInt32BE(0);
    const flags = this.buffered.readUInt8(4);
    const length = this.buffered.readUInt32BE(4) & 0xffffff;
    if ((first & 0x80000000) === 0) {
      this.buffered = this.buffered.subarray(8);
      const streamId = first & MAX_STREAM_ID;
      if (length === 0) return { type: 'DATA', streamId, flags, data: Buffer.alloc(0) };
      this.data = { streamId, flags, remaining: length, continued: false };
      return this.next();
    }
    if (length > this.maxControlPayload) throw new SpdyProtocolError(`control frame of ${length} bytes exceeds the bound of ${this.maxControlPayload}`, RstStatus.FRAME_TOO_LARGE);
    if (this.buffered.length < 8 + length) return undefined;
    const head = this.buffered.subarray(0, 8);
    const payload = Buffer.from(this.buffered.subarray(8, 8 + length));
    this.buffered = this.buffered.subarray(8 + length);
    return this.parse(head, payload);
  }

  /**
   * Appends bytes and returns every frame (and DATA piece) completed so far, in order.
   * @throws SpdyProtocolError on a malformed frame; the decoder is then unusable.
   */
  push(chunk: Buffer): Frame[] {
    this.append(chunk);
    const frames: Frame[] = [];
    for (let f = this.next(); f; f = this.next()) frames.push(f);
    return frames;
  }

  /** Bytes received and not yet handed on as frames. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  private parse(head: Buffer, payload: Buffer): Frame {
    const first = head.readUInt32BE(0);
    const flags = head.readUInt8(4);
    if ((first & 0x80000000) === 0) {
      return { type: 'DATA', streamId: first & MAX_STREAM_ID, flags, data: payload };
    }
    const version = (first >>> 16) & 0x7fff;
    const type = first & 0xffff;
    if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`, RstStatus.UNSUPPORTED_VERSION);
    const exact = (n: number, name: string): void => {
      if (payload.length !== n) throw new SpdyProtocolError(`${name} frame with length ${payload.length}, expected ${n}`);
    };
    const atLeast = (n: number, name: string): void => {
      if (payload.length < n) throw new SpdyProtocolError(`${name} frame with length ${payload.length}, expected at least ${n}`);
    };
    switch (type) {
      case FrameType.SYN_STREAM: {
        atLeast(10, 'SYN_STREAM');
        const streamId = payload.readUInt32BE(0) & MAX_STREAM_ID;
        const headers = decodeHeaderBlock(this.decompress(payload.subarray(10), streamId), streamId);
        if (streamId === 0) throw new SpdyProtocolError('SYN_STREAM with stream ID 0');
        return {
          type: 'SYN_STREAM',
          streamId,
          associatedStreamId: payload.readUInt32BE(4) & MAX_STREAM_ID,
          priority: payload.readUInt8(8) >>> 5,
          slot: payload.readUInt8(9),
          flags,
          headers,
        };
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        const name = type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS';
        atLeast(4, name);
        const streamId = payload.readUInt32BE(0) & MAX_STREAM_ID;
        const headers = decodeHeaderBlock(this.decompress(payload.subarray(4), streamId), streamId);
        if (streamId === 0) throw new SpdyProtocolError(`${name} with stream ID 0`);
        return { type: name, streamId, flags, headers };
      }
      case FrameType.RST_STREAM: {
        exact(8, 'RST_STREAM');
        const streamId = payload.readUInt32BE(0) & MAX_STREAM_ID;
        const status = payload.readUInt32BE(4);
        if (streamId === 0) throw new SpdyProtocolError('RST_STREAM with stream ID 0');
        if (status === 0) throw new SpdyProtocolError('RST_STREAM with status 0');
        return { type: 'RST_STREAM', streamId, status };
      }
      case FrameType.SETTINGS: {
        atLeast(4, 'SETTINGS');
        const count = payload.readUInt32BE(0);
        exact(4 + 8 * count, 'SETTINGS');
        const entries: SettingsEntry[] = [];
        for (let i = 0; i < count; i++) {
          const word = payload.readUInt32BE(4 + 8 * i);
          entries.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) });
        }
        return { type: 'SETTINGS', flags, entries };
      }
      case FrameType.PING:
        exact(4, 'PING');
        return { type: 'PING', id: payload.readUInt32BE(0) };
      case FrameType.GOAWAY:
        exact(8, 'GOAWAY');
        return { type: 'GOAWAY', lastGoodStreamId: payload.readUInt32BE(0) & MAX_STREAM_ID, status: payload.readUInt32BE(4) };
      case FrameType.WINDOW_UPDATE: {
        exact(8, 'WINDOW_UPDATE');
        const delta = payload.readUInt32BE(4) & MAX_STREAM_ID;
        const streamId = payload.readUInt32BE(0) & MAX_STREAM_ID;
        if (delta === 0) throw new SpdyProtocolError('WINDOW_UPDATE with delta 0', RstStatus.PROTOCOL_ERROR, streamId || undefined);
        return { type: 'WINDOW_UPDATE', streamId, delta };
      }
      default:
        return { type: 'UNKNOWN', frameType: type, flags, payload };
    }
  }
}
