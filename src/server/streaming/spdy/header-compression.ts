/**
 * SPDY/3 header block compression (draft 3.1, section 2.6.10.1): one zlib
 * stream per direction per connection, primed with the SPDY/3 dictionary,
 * each header block ended by a Z_SYNC_FLUSH so the peer can decode it at once.
 *
 * Why pako and not node:zlib: a SPDY framer must compress and decompress in
 * frame order, synchronously, keeping the zlib state across frames. Node's
 * stream API is asynchronous and its synchronous helpers close the zlib
 * context after every call; pako (a pure-JS zlib port) keeps one context and
 * works synchronously.
 */
import * as pako from 'pako';
import { SPDY3_DICTIONARY } from './dictionary';
import { SpdyProtocolError } from './frames';

/** Compresses outbound header blocks with one zlib context. */
export class HeaderCompressor {
  private readonly deflate: pako.Deflate;
  private output: Uint8Array[] = [];

  constructor() {
    this.deflate = new pako.Deflate({ dictionary: SPDY3_DICTIONARY, level: 6 });
    this.deflate.onData = (chunk) => this.output.push(chunk as Uint8Array);
  }

  /** Compresses one serialized header block; the result ends at a sync flush point. */
  compress(block: Buffer): Buffer {
    this.output = [];
    this.deflate.push(block, pako.constants.Z_SYNC_FLUSH);
    if (this.deflate.err) throw new Error(`header compression failed: ${this.deflate.msg}`);
    return Buffer.concat(this.output);
  }
}

/** Internal state of pako's Inflate that we drain after a sync flush. */
interface InflateStream {
  output: Uint8Array;
  next_out: number;
  avail_out: number;
}

/** Decompresses inbound header blocks with one zlib context. */
export class HeaderDecompressor {
  private readonly inflate: pako.Inflate;
  private output: Buffer[] = [];

  constructor() {
    this.inflate = new pako.Inflate({ dictionary: SPDY3_DICTIONARY });
    this.inflate.onData = (chunk) => this.output.push(Buffer.from(chunk as Uint8Array));
  }

  /**
   * Decompresses one compressed header block.
   * @throws SpdyProtocolError when the bytes are not valid zlib data for this context.
   */
  decompress(compressed: Buffer): Buffer {
    this.output = [];
    const ok = this.inflate.push(compressed, pako.constants.Z_SYNC_FLUSH);
    if (!ok || this.inflate.err) throw new SpdyProtocolError(`header block does not decompress: ${this.inflate.msg || 'stream ended'}`);
    // pako hands out its output buffer only when it is full; after a sync
    // flush the rest of the block sits in it, so take it from there.
    const strm = (this.inflate as unknown as { strm: InflateStream }).strm;
    if (strm.next_out > 0) {
      this.output.push(Buffer.from(strm.output.subarray(0, strm.next_out)));
      strm.next_out = 0;
      strm.avail_out = strm.output.length;
    }
    return Buffer.concat(this.output);
  }
}
