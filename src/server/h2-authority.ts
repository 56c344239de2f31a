import { Duplex } from 'node:stream';
import * as net from 'node:net';
import * as hpack from 'hpack.js';

/**
 * Why this exists: gRPC clients that dial a unix socket through a custom
 * dialer (crictl and critest up to at least v1.26, older kubelets) send the
 * socket path, e.g. `/run/peapod/peapod.sock`, as the HTTP/2 `:authority`.
 * Node's HTTP/2 stack (nghttp2) checks `:authority` against RFC 3986 and
 * resets such streams with PROTOCOL_ERROR before grpc-js sees them; Go
 * servers (containerd, CRI-O) accept anything. Over a unix socket the
 * authority means nothing, so peapod rewrites every request header block the
 * client sends, replacing an `:authority` that is not a valid authority by
 * `localhost`, and hands the connection to grpc-js.
 *
 * The client's header blocks are decoded with its HPACK context (RFC 7541)
 * and re-encoded as literals without indexing, so the server's decoding
 * context stays empty and consistent. Server-to-client bytes pass untouched.
 */

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Largest frame payload we emit: the protocol's default SETTINGS_MAX_FRAME_SIZE. */
const MAX_FRAME_PAYLOAD = 16_384;
/** Bound on one header block, in bytes (grpc's default metadata limit is 8 KiB; allow far more). */
const MAX_HEADER_BLOCK = 1 << 20;
/** Characters RFC 3986 allows in an authority (host, port, userinfo, IP literal, pct-encoding). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

/** Encodes an HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function encodeInt(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** Encodes a header list as literals without indexing, new names, no Huffman (RFC 7541 §6.2.2). */
export function encodeHeaderBlock(fields: Array<{ name: string; value: string; neverIndex?: boolean }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const name = Buffer.from(f.name, 'latin1');
    const value = Buffer.from(f.value, 'latin1');
    parts.push(Buffer.from([f.neverIndex ? 0x10 : 0x00]));
    parts.push(Buffer.from(encodeInt(name.length, 7, 0)), name);
    parts.push(Buffer.from(encodeInt(value.length, 7, 0)), value);
  }
  return Buffer.concat(parts);
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/**
 * Rewrites the client-to-server byte stream of one HTTP/2 connection: a
 * stateful parser fed with `push(chunk)` that returns the bytes to forward.
 * Throws on a malformed stream (the caller closes the connection).
 */
export class AuthorityRewriter {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private readonly decoder = hpack.decompressor.create({ table: { size: 4096 } });
  /** A header block in progress: the HEADERS frame's stream, flags, priority bytes and fragments. */
  private pending: { streamId: number; flags: number; priority: Buffer | null; fragments: Buffer[]; size: number } | null = null;

  /**
   * Feeds bytes read from the client.
   * @returns bytes to pass to the server (possibly empty while a frame is incomplete).
   * @throws Error on a malformed preface, frame or header block.
   */
  push(chunk: Buffer): Buffer {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    if (!this.prefaceSeen) {
      if (this.buf.length < PREFACE.length) return Buffer.alloc(0);
      if (!this.buf.subarray(0, PREFACE.length).equals(PREFACE)) throw new Error('not an HTTP/2 connection preface');
      out.push(this.buf.subarray(0, PREFACE.length));
      this.buf = this.buf.subarray(PREFACE.length);
      this.prefaceSeen = true;
    }
    while (this.buf.length >= FRAME_HEADER_BYTES) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < FRAME_HEADER_BYTES + length) break;
      const type = this.buf[3];
      const flags = this.buf[4];
      const streamId = this.buf.readUInt32BE(5) & 0x7fffffff;
      const whole = this.buf.subarray(0, FRAME_HEADER_BYTES + length);
      const payload = whole.subarray(FRAME_HEADER_BYTES);
      this.buf = this.buf.subarray(FRAME_HEADER_BYTES + length);
      if (type === TYPE_HEADERS) {
        this.startBlock(flags, streamId, payload);
      } else if (type === TYPE_CONTINUATION) {
        if (!this.pending || this.pending.streamId !== streamId) throw new Error('CONTINUATION without HEADERS');
        this.addFragment(payload, flags);
      } else {
        if (this.pending) throw new Error('frame interleaved in a header block');
        out.push(whole);
        continue;
      }
      if (this.pending && this.pending.flags & FLAG_END_HEADERS) out.push(this.finishBlock());
    }
    return Buffer.concat(out);
  }

  private startBlock(flags: number, streamId: number, payload: Buffer): void {
    let offset = 0;
    let padLength = 0;
    if (flags & FLAG_PADDED) {
      padLength = payload[0];
      offset = 1;
    }
    let priority: Buffer | null = null;
    if (flags & FLAG_PRIORITY) {
      priority = payload.subarray(offset, offset + 5);
      offset += 5;
    }
    if (offset + padLength > payload.length) throw new Error('HEADERS padding exceeds the frame');
    this.pending = { streamId, flags: flags & ~FLAG_PADDED, priority, fragments: [], size: 0 };
    this.addFragment(payload.subarray(offset, payload.length - padLength), flags);
  }

  private addFragment(fragment: Buffer, flags: number): void {
    const p = this.pending!;
    p.fragments.push(fragment);
    p.size += fragment.length;
    if (p.size > MAX_HEADER_BLOCK) throw new Error('header block too large');
    if (flags & FLAG_END_HEADERS) p.flags |= FLAG_END_HEADERS;
  }

  private finishBlock(): Buffer {
    const p = this.pending!;
    this.pending = null;
    this.decoder.write(Buffer.concat(p.fragments));
    let failure: Error | null = null;
    this.decoder.execute((err) => (failure = err));
    const fields: Array<{ name: string; value: string; neverIndex: boolean }> = [];
    for (let f = this.decoder.read(); f !== null; f = this.decoder.read()) fields.push(f);
    if (failure) throw failure;
    for (const f of fields) {
      if (f.name === ':authority' && !VALID_AUTHORITY.test(f.value)) f.value = 'localhost';
    }
    const block = encodeHeaderBlock(fields);
    const frames: Buffer[] = [];
    const first = p.priority ? Buffer.concat([p.priority, block.subarray(0, MAX_FRAME_PAYLOAD - 5)]) : block.subarray(0, MAX_FRAME_PAYLOAD);
    let rest = block.subarray(first.length - (p.priority ? 5 : 0));
    const endHeaders = rest.length === 0 ? FLAG_END_HEADERS : 0;
    frames.push(frame(TYPE_HEADERS, (p.flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | endHeaders, p.streamId, first));
    while (rest.length) {
      const piece = rest.subarray(0, MAX_FRAME_PAYLOAD);
      rest = rest.subarray(piece.length);
      frames.push(frame(TYPE_CONTINUATION, rest.length === 0 ? FLAG_END_HEADERS : 0, p.streamId, piece));
    }
    return Buffer.concat(frames);
  }
}

/**
 * Wraps an accepted socket in a Duplex that the HTTP/2 server reads the
 * rewritten client bytes from and writes its own bytes through.
 * @param socket a connection accepted on the CRI unix socket
 * @param onError called once if the client sends something malformed (the socket is destroyed)
 */
export function rewritingConnection(socket: net.Socket, onError: (err: Error) => void): Duplex {
  const rewriter = new AuthorityRewriter();
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    let out: Buffer;
    try {
      out = rewriter.push(chunk);
    } catch (err) {
      onError(err as Error);
      socket.destroy();
      duplex.destroy();
      return;
    }
    if (out.length && !duplex.push(out)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', (err) => duplex.destroy(err));
  return duplex;
}
