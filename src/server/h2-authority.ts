import { Duplex } from 'node:stream';
import * as net from 'node:net';
import * as hpack from 'hpack.js';
import { PREFACE, FRAME_HEADER_BYTES, TYPE_HEADERS, TYPE_SETTINGS, FLAG_ACK, TYPE_PUSH_PROMISE, TYPE_CONTINUATION, FLAG_END_STREAM, FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY } from './h2-frames';

/**
 * Why this exists: gRPC clients that dial a unix socket through a custom
 * dialer (crictl and critest up to at least v1.26, older kubelets) send the
 * socket path, e.g. `/run/peapod/peapod.sock`, as the HTTP/2 `:authority`.
 * Node's HTTP/2 stack (nghttp2) checks `:authority` against RFC 3986 and
 * resets such streams with PROTOCOL_ERROR before grpc-js sees them; Go
 * servers (containerd, CRI-O) accept anything. Over a unix socket the
 * authority means nothing, so peapod rewrites that one header field in the
 * bytes the client sends and hands the connection to grpc-js.
 *
 * Design: every frame passes through untouched except a header block whose
 * `:authority` is a literal with a value that is not a valid authority.
 * To know that, every header block the client sends is walked with a model of
 * the client's HPACK dynamic table (RFC 7541 §2.3, §4): entry sizes and
 * whether an entry's name is `:authority`, nothing more. Because only the
 * value of such a literal changes and every other representation is copied
 * byte for byte, the server's decoder builds the same dynamic table as the
 * client's encoder, with one difference: an `:authority` entry the client
 * inserted holds the repaired value. So that the table sizes (and so the
 * indices and evictions) stay identical, a value inserted into the table is
 * repaired at the same octet length (each octet outside the authority
 * characters becomes `_`); a value not inserted becomes `localhost`. Later
 * requests that refer to the entry by index reach the server as they are and
 * resolve to the repaired value there.
 *
 * The dynamic table's size is bounded by the server's
 * SETTINGS_HEADER_TABLE_SIZE: 4096 octets, the HTTP/2 default, which Node's
 * http2 and grpc-js keep. A malformed header block (bad index, bad integer,
 * table size update over that bound or after the first field, bad Huffman
 * code) is a connection error (RFC 7541 §2.3.3, RFC 9113 §4.3): push()
 * throws at once and the caller closes the connection.
 */

/** Largest frame payload we emit: the protocol's default SETTINGS_MAX_FRAME_SIZE. */
const MAX_FRAME_PAYLOAD = 16_384;
/**
 * Bound on one compressed header block, in bytes. A compressed block is
 * never longer than the header list it encodes (RFC 7541 §4.1 counts 32
 * octets per field on top of name and value), and Node's http2 server refuses
 * lists over its maxHeaderListSize (64 KiB by default), so twice that passes
 * every block the server would accept.
 */
export const MAX_HEADER_BLOCK = 128 * 1024;
/** The server's SETTINGS_HEADER_TABLE_SIZE (octets): the HTTP/2 default, kept by Node's http2 and grpc-js. */
export const HEADER_TABLE_SIZE = 4096;
/** Number of entries in the HPACK static table (RFC 7541 Appendix A); index 1 is `:authority`. */
const STATIC_TABLE_LENGTH = 61;
/** Per-entry overhead in the dynamic table's size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** Characters RFC 3986 allows in an authority (host, port, userinfo, IP literal, pct-encoding). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
const AUTHORITY_NAME = Buffer.from(':authority', 'latin1');
/** Octets RFC 3986 allows in an authority, as a lookup table. */
const AUTHORITY_OCTET = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]%") AUTHORITY_OCTET[c.charCodeAt(0)] = 1;

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

/** Encodes a string literal without Huffman coding (RFC 7541 §5.2). */
function encodeString(octets: Buffer): Buffer {
  return Buffer.concat([Buffer.from(encodeInt(octets.length, 7, 0)), octets]);
}

/**
 * Encodes a header list as literals without indexing, new names, no Huffman (RFC 7541 §6.2.2).
 * @param fields names and values as latin1 strings (one octet per character)
 * @returns the header block fragment
 */
export function encodeHeaderBlock(fields: Array<{ name: string; value: string; neverIndex?: boolean }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(Buffer.from([f.neverIndex ? 0x10 : 0x00]));
    parts.push(encodeString(Buffer.from(f.name, 'latin1')), encodeString(Buffer.from(f.value, 'latin1')));
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

/** A fault in the client's HPACK data: a connection error of type COMPRESSION_ERROR. */
export class HpackError extends Error {
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackError';
  }
}

/** One dynamic table entry as far as the rewriter needs it. */
interface TableEntry {
  /** The entry's name is `:authority`. */
  authority: boolean;
  /** Octets of the name. */
  nameSize: number;
  /** name + value octets + 32 (RFC 7541 §4.1). */
  size: number;
}

/**
 * A model of the client encoder's dynamic table (RFC 7541 §2.3.2, §4):
 * entry sizes and names-are-`:authority`, newest first, evicted oldest first.
 */
class DynamicTable {
  /** Entries, oldest first (index 62 is the last one). */
  private readonly entries: TableEntry[] = [];
  size = 0;
  private maxSize: number;

  constructor(private readonly protocolMaxSize: number) {
    this.maxSize = protocolMaxSize;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The entry at HPACK index `index` (62 and up), or undefined past the end. */
  get(index: number): TableEntry | undefined {
    return this.entries[this.entries.length - 1 - (index - STATIC_TABLE_LENGTH - 1)];
  }

  add(entry: TableEntry): void {
    this.entries.push(entry);
    this.size += entry.size;
    this.evict();
  }

  /** A dynamic table size update (RFC 7541 §6.3). @throws HpackError above the protocol maximum. */
  resize(size: number): void {
    if (size > this.protocolMaxSize) throw new HpackError(`table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.protocolMaxSize}`);
    this.maxSize = size;
    this.evict();
  }

  private evict(): void {
    // An entry larger than the table empties it and is not kept (RFC 7541 §4.4).
    while (this.size > this.maxSize) this.size -= (this.entries.shift() as TableEntry).size;
  }
}

/** onHeaderFrame's answer for a one-frame block forwarded as it came. */
const UNTOUCHED = Symbol('untouched');

/** What the walk of one header block found: the spans to replace, in order. */
interface Edit {
  start: number;
  end: number;
  replacement: Buffer;
}

/**
 * Rewrites the client-to-server byte stream of one HTTP/2 connection: a
 * stateful parser fed with `push(chunk)` that returns the bytes to forward.
 * Frames other than HEADERS and CONTINUATION are forwarded as they arrive,
 * without waiting for the whole frame; header blocks are held until
 * END_HEADERS (at most MAX_HEADER_BLOCK bytes).
 */
export class AuthorityRewriter {
  private prefaceSeen = 0;
  private readonly table: DynamicTable;
  /** Bytes of a frame header split across reads. */
  private head: Buffer = Buffer.alloc(0);
  /** Payload bytes of the current pass-through frame still to forward. */
  private passRemaining = 0;
  /** The current HEADERS/CONTINUATION frame being collected. */
  private collecting: { type: number; flags: number; streamId: number; header: Buffer; payload: Buffer[]; remaining: number } | null = null;
  /** A header block in progress: its frames as received, fragments, flags and priority bytes. */
  private pending: { streamId: number; flags: number; priority: Buffer | null; frames: Buffer[]; fragments: Buffer[]; size: number } | null = null;
  /** The one-frame block onHeaderFrame last passed as UNTOUCHED. */
  private lastBlock: Buffer | undefined;
  /** Header blocks whose `:authority` was repaired so far. */
  private repaired = 0;
  /** SETTINGS ACK frames from the client still to drop (see the constructor). */
  private acksToDrop: number;

  /**
   * @param headerTableSize the server's SETTINGS_HEADER_TABLE_SIZE (octets)
   * @param dropSettingsAcks how many of the client's SETTINGS ACK frames to
   *   remove from the stream: the acknowledgements of SETTINGS frames that
   *   something in front of the server sent, which the server never sent and
   *   would take as a connection error (h2-handover.ts sends one)
   */
  constructor(headerTableSize = HEADER_TABLE_SIZE, dropSettingsAcks = 0) {
    this.table = new DynamicTable(headerTableSize);
    this.acksToDrop = dropSettingsAcks;
  }

  /** Header blocks whose `:authority` had to be repaired so far (0: every block came through as it was). */
  get repairedBlocks(): number {
    return this.repaired;
  }

  /** Octets the model of the client's dynamic table holds (at most the table size setting). */
  get dynamicTableSize(): number {
    return this.table.size;
  }

  /** Entries in the model of the client's dynamic table. */
  get dynamicTableLength(): number {
    return this.table.length;
  }

  /**
   * Feeds bytes read from the client.
   * @returns bytes to pass to the server (possibly empty while a header block is incomplete).
   * @throws Error on a malformed preface or frame sequence; HpackError on a malformed header block.
   */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    if (this.prefaceSeen < PREFACE.length) {
      const take = Math.min(PREFACE.length - this.prefaceSeen, chunk.length);
      if (!chunk.subarray(0, take).equals(PREFACE.subarray(this.prefaceSeen, this.prefaceSeen + take))) throw new Error('not an HTTP/2 connection preface');
      this.prefaceSeen += take;
      pos = take;
    }
    /** Start of bytes of this chunk to forward as they are. */
    let runStart = 0;
    while (pos < chunk.length) {
      if (this.passRemaining > 0) {
        const take = Math.min(this.passRemaining, chunk.length - pos);
        this.passRemaining -= take;
        pos += take;
        continue;
      }
      if (this.collecting) {
        const c = this.collecting;
        const take = Math.min(c.remaining, chunk.length - pos);
        c.payload.push(chunk.subarray(pos, pos + take));
        c.remaining -= take;
        pos += take;
        runStart = pos;
        if (c.remaining === 0) {
          this.collecting = null;
          const payload = Buffer.concat(c.payload);
          const done = this.onHeaderFrame(c.type, c.flags, c.streamId, Buffer.concat([c.header, payload]), payload);
          if (done === UNTOUCHED) out.push(this.lastBlock as Buffer);
          else if (done) out.push(done);
        }
        continue;
      }
      // A frame header: in place when whole, else gathered across reads.
      const headStart = pos;
      let header: Buffer;
      let split = false;
      if (this.head.length === 0 && chunk.length - pos >= FRAME_HEADER_BYTES) {
        header = chunk.subarray(pos, pos + FRAME_HEADER_BYTES);
        pos += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.head.length, chunk.length - pos);
        this.head = Buffer.concat([this.head, chunk.subarray(pos, pos + take)]);
        pos += take;
        if (headStart > runStart) out.push(chunk.subarray(runStart, headStart));
        runStart = pos;
        // Held back until whole: the frame's type decides whether it passes through.
        if (this.head.length < FRAME_HEADER_BYTES) continue;
        header = this.head;
        this.head = Buffer.alloc(0);
        split = true;
      }
      const length = header.readUIntBE(0, 3);
      const type = header[3];
      const flags = header[4];
      const streamId = header.readUInt32BE(5) & 0x7fffffff;
      if (type === TYPE_HEADERS || type === TYPE_CONTINUATION) {
        if (type === TYPE_CONTINUATION && (!this.pending || this.pending.streamId !== streamId)) throw new Error('CONTINUATION without HEADERS');
        if (type === TYPE_HEADERS && this.pending) throw new Error('HEADERS inside a header block');
        if (length > MAX_HEADER_BLOCK) throw new Error(`header block over ${MAX_HEADER_BLOCK} bytes`);
        if (!split && chunk.length - pos >= length) {
          // The whole frame is in this read: no copy, and an untouched one-frame block stays in the run.
          const payload = chunk.subarray(pos, pos + length);
          pos += length;
          const done = this.onHeaderFrame(type, flags, streamId, chunk.subarray(headStart, pos), payload);
          if (done === UNTOUCHED) continue;
          if (headStart > runStart) out.push(chunk.subarray(runStart, headStart));
          runStart = pos;
          if (done) out.push(done);
          continue;
        }
        if (headStart > runStart) out.push(chunk.subarray(runStart, headStart));
        runStart = pos;
        if (length === 0) {
          const done = this.onHeaderFrame(type, flags, streamId, Buffer.from(header), Buffer.alloc(0));
          out.push(done === UNTOUCHED ? (this.lastBlock as Buffer) : done ?? Buffer.alloc(0));
          continue;
        }
        this.collecting = { type, flags, streamId, header: Buffer.from(header), payload: [], remaining: length };
        continue;
      }
      if (this.pending) throw new Error('frame interleaved in a header block');
      // A client never sends PUSH_PROMISE (RFC 9113 §8.4); its header block would change the HPACK state.
      if (type === TYPE_PUSH_PROMISE) throw new Error('PUSH_PROMISE from a client');
      if (type === TYPE_SETTINGS && flags & FLAG_ACK && length === 0 && this.acksToDrop > 0) {
        // An acknowledgement the server must not see: left out of what is forwarded.
        this.acksToDrop--;
        if (!split && headStart > runStart) out.push(chunk.subarray(runStart, headStart));
        runStart = pos;
        continue;
      }
      // A header gathered across reads was held back: forward it now.
      if (split) out.push(header);
      this.passRemaining = length;
    }
    if (pos > runStart) out.push(chunk.subarray(runStart, pos));
    if (out.length === 0) return Buffer.alloc(0);
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /**
   * A whole HEADERS or CONTINUATION frame (`whole`, its `payload` inside it).
   * @returns undefined while the block is incomplete; UNTOUCHED when the
   *   block was this one frame and needs no change (`lastBlock` holds it);
   *   else the bytes to forward for the block.
   */
  private onHeaderFrame(type: number, flags: number, streamId: number, whole: Buffer, payload: Buffer): Buffer | typeof UNTOUCHED | undefined {
    if (type === TYPE_HEADERS) {
      let offset = 0;
      let padLength = 0;
      if (flags & FLAG_PADDED) {
        if (payload.length < 1) throw new Error('HEADERS too short for its padding length');
        padLength = payload[0];
        offset = 1;
      }
      let priority: Buffer | null = null;
      if (flags & FLAG_PRIORITY) {
        priority = payload.subarray(offset, offset + 5);
        offset += 5;
      }
      if (offset + padLength > payload.length) throw new Error('HEADERS padding exceeds the frame');
      this.pending = { streamId, flags, priority, frames: [whole], fragments: [payload.subarray(offset, payload.length - padLength)], size: 0 };
    } else {
      const p = this.pending as NonNullable<typeof this.pending>;
      p.frames.push(whole);
      p.fragments.push(payload);
      p.flags |= flags & FLAG_END_HEADERS;
    }
    const p = this.pending as NonNullable<typeof this.pending>;
    p.size += payload.length;
    if (p.size > MAX_HEADER_BLOCK) throw new Error(`header block over ${MAX_HEADER_BLOCK} bytes`);
    if (!(p.flags & FLAG_END_HEADERS)) return undefined;
    this.pending = null;
    const block = p.fragments.length === 1 ? p.fragments[0] : Buffer.concat(p.fragments);
    const edits = this.walk(block);
    if (edits.length === 0) {
      if (p.frames.length > 1) return Buffer.concat(p.frames);
      this.lastBlock = p.frames[0];
      return UNTOUCHED;
    }
    this.repaired++;
    return this.reframe(p.streamId, p.flags, p.priority, applyEdits(block, edits));
  }

  /**
   * Walks one header block (RFC 7541 §6), updating the table model, and
   * returns the `:authority` values to replace.
   * @throws HpackError on a malformed block
   */
  private walk(block: Buffer): Edit[] {
    const edits: Edit[] = [];
    let off = 0;
    let sawField = false;
    const int = (prefixBits: number): number => {
      if (off >= block.length) throw new HpackError('truncated integer');
      const max = (1 << prefixBits) - 1;
      let value = block[off++] & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (off >= block.length) throw new HpackError('truncated integer');
        const b = block[off++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 0x7fffffff) throw new HpackError('integer over 2^31-1');
        if ((b & 0x80) === 0) return value;
      }
    };
    /** A string literal: its span and, when asked, its octets (Huffman decoded). */
    const str = (decode: boolean): { start: number; end: number; length: number; octets?: Buffer } => {
      const start = off;
      if (off >= block.length) throw new HpackError('truncated string');
      const huffman = (block[off] & 0x80) !== 0;
      const len = int(7);
      if (off + len > block.length) throw new HpackError('string past the end of the block');
      const dataStart = off;
      off += len;
      if (!huffman) return { start, end: off, length: len, octets: block.subarray(dataStart, off) };
      if (!decode) return { start, end: off, length: -1 };
      const octets = this.huffman(block.subarray(start, off));
      return { start, end: off, length: octets.length, octets };
    };
    const nameOf = (index: number): TableEntry => {
      if (index === 0) throw new HpackError('index 0');
      if (index <= STATIC_TABLE_LENGTH) return { authority: index === 1, nameSize: staticNameSize(index), size: 0 };
      const e = this.table.get(index);
      if (!e) throw new HpackError(`index ${index} past the dynamic table (${this.table.length} entries)`);
      return e;
    };
    while (off < block.length) {
      const b = block[off];
      if (b & 0x80) {
        // Indexed field (§6.1): the server resolves it in its own, equivalent table.
        nameOf(int(7));
        sawField = true;
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only at the start of a block (§4.2).
        if (sawField) throw new HpackError('dynamic table size update after a header field');
        this.table.resize(int(5));
      } else {
        // Literal (§6.2): with incremental indexing (01), without (0000) or never indexed (0001).
        const indexed = (b & 0xc0) === 0x40;
        const nameIndex = int(indexed ? 6 : 4);
        let authority: boolean;
        let nameSize: number;
        if (nameIndex === 0) {
          const name = str(true);
          authority = (name.octets as Buffer).equals(AUTHORITY_NAME);
          nameSize = name.length;
        } else {
          ({ authority, nameSize } = nameOf(nameIndex));
        }
        const value = str(authority || indexed);
        if (authority && !VALID_AUTHORITY.test((value.octets as Buffer).toString('latin1'))) {
          const repaired = indexed ? sameLengthAuthority(value.octets as Buffer) : Buffer.from('localhost', 'latin1');
          edits.push({ start: value.start, end: value.end, replacement: encodeString(repaired) });
        }
        if (indexed) this.table.add({ authority, nameSize, size: nameSize + value.length + ENTRY_OVERHEAD });
        sawField = true;
      }
    }
    return edits;
  }

  /** Decodes a Huffman-coded string literal (its prefix byte included). @throws HpackError on a bad code or padding. */
  private huffman(literal: Buffer): Buffer {
    const d = hpack.decoder.create();
    d.push(literal);
    try {
      const out = d.decodeStr();
      return Buffer.isBuffer(out) ? out : Buffer.from(out);
    } catch (err) {
      throw new HpackError(`bad Huffman string: ${(err as Error).message}`);
    }
  }

  /** Splits a rewritten block into HEADERS and CONTINUATION frames (no padding). */
  private reframe(streamId: number, flags: number, priority: Buffer | null, block: Buffer): Buffer {
    const frames: Buffer[] = [];
    const firstRoom = MAX_FRAME_PAYLOAD - (priority ? 5 : 0);
    const first = block.subarray(0, firstRoom);
    let rest = block.subarray(first.length);
    const endHeaders = rest.length === 0 ? FLAG_END_HEADERS : 0;
    frames.push(frame(TYPE_HEADERS, (flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | endHeaders, streamId, priority ? Buffer.concat([priority, first]) : first));
    while (rest.length) {
      const piece = rest.subarray(0, MAX_FRAME_PAYLOAD);
      rest = rest.subarray(piece.length);
      frames.push(frame(TYPE_CONTINUATION, rest.length === 0 ? FLAG_END_HEADERS : 0, streamId, piece));
    }
    return Buffer.concat(frames);
  }
}

/** Name length (octets) of a static table entry. */
function staticNameSize(index: number): number {
  return hpack['static-table'].table[index - 1].nameSize;
}

/** An authority of the same octet length: every octet RFC 3986 does not allow there becomes `_`. */
function sameLengthAuthority(value: Buffer): Buffer {
  const out = Buffer.from(value);
  for (let i = 0; i < out.length; i++) if (!AUTHORITY_OCTET[out[i]]) out[i] = 0x5f;
  return out;
}

function applyEdits(block: Buffer, edits: Edit[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(block.subarray(at, e.start), e.replacement);
    at = e.end;
  }
  parts.push(block.subarray(at));
  return Buffer.concat(parts);
}

/**
 * Wraps an accepted socket in a Duplex that the HTTP/2 server reads the
 * rewritten client bytes from and writes its own bytes through.
 * The one entry point for a rewritten connection: bytes the caller read
 * before (h2-handover.ts) go through the same rewriter first, so the
 * HPACK state and the bounds are those of one stream.
 * @param socket a connection accepted on the CRI unix socket
 * @param onError called once if the client sends something malformed (the socket is destroyed)
 * @param start for a connection whose first bytes were read already
 *   (h2-handover.ts): those bytes, from the client's first byte, and how
 *   many of the client's SETTINGS ACK frames to drop (AuthorityRewriter's
 *   dropSettingsAcks: 1 when the caller sent a SETTINGS frame of its own
 *   whose ACK is not among `bytes`)
 * @returns the connection for the HTTP/2 server; undefined when `start.bytes`
 *   are malformed (onError was told and the socket destroyed)
 */
export function rewritingConnection(socket: net.Socket, onError: (err: Error) => void): Duplex;
export function rewritingConnection(socket: net.Socket, onError: (err: Error) => void, start: { bytes: Buffer; dropSettingsAcks: number }): Duplex | undefined;
export function rewritingConnection(socket: net.Socket, onError: (err: Error) => void, start?: { bytes: Buffer; dropSettingsAcks: number }): Duplex | undefined {
  const rewriter = new AuthorityRewriter(undefined, start?.dropSettingsAcks ?? 0);
  let first: Buffer | undefined;
  if (start) {
    try {
      first = rewriter.push(start.bytes);
    } catch (err) {
      onError(err as Error);
      socket.destroy();
      return undefined;
    }
  }
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    // HTTP/2 hands its frames over in batches (JSStreamSocket corks this stream around
    // each): one writev to the socket per batch, not a write and its callback per frame.
    writev(chunks: Array<{ chunk: Buffer }>, cb) {
      socket.cork();
      for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i].chunk);
      socket.write(chunks[chunks.length - 1].chunk, cb);
      socket.uncork();
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  if (first?.length) duplex.push(first);
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
