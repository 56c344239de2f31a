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
import { MAX_HEADER_BLOCK, RstStatus, SpdyProtocolError } from './frames';

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

/** Output pieces of the inflater (bytes): no single allocation while inflating is larger. */
const INFLATE_CHUNK = 16 * 1024;

/** Thrown out of pako's onData to stop inflating at the budget. */
class BudgetExceeded extends Error {}

/**
 * Decompresses inbound header blocks with one zlib context, incrementally
 * and within a byte budget: output comes in pieces of INFLATE_CHUNK bytes,
 * and inflating stops at the first piece that would take a block past
 * `maxBlockBytes`, so a small compressed block that would inflate to
 * hundreds of MiB costs at most the budget plus one piece.
 */
export class HeaderDecompressor {
  private readonly inflate: pako.Inflate;
  private output: Buffer[] = [];
  private outputBytes = 0;
  /** Set once inflating stopped mid-block: the context no longer matches the peer's. */
  private broken = false;
  /** Most output bytes held for one block so far (for tests and metrics). */
  peakBlockBytes = 0;

  /** @param maxBlockBytes largest decompressed header block accepted (bytes) */
  constructor(private readonly maxBlockBytes = MAX_HEADER_BLOCK) {
    this.inflate = new pako.Inflate({ dictionary: SPDY3_DICTIONARY, chunkSize: INFLATE_CHUNK });
    this.inflate.onData = (chunk) => this.take(chunk as Uint8Array);
  }

  /**
   * Decompresses one compressed header block.
   * @param compressed the block's bytes as they came in the frame
   * @param streamId the stream whose frame carries the block (named in errors)
   * @throws SpdyProtocolError when the bytes are not valid zlib data for this
   *   context, or (FRAME_TOO_LARGE, fatal: the context is then out of step
   *   with the peer's) when the block inflates past `maxBlockBytes`.
   */
  decompress(compressed: Buffer, streamId = 0): Buffer {
    if (this.broken) throw new SpdyProtocolError('header decompression context is out of step after an oversized block');
    this.output = [];
    this.outputBytes = 0;
    let ok: boolean;
    try {
      ok = this.inflate.push(compressed, pako.constants.Z_SYNC_FLUSH);
      // pako hands out its output buffer only when it is full; after a sync
      // flush the rest of the block sits in it, so take it from there.
      const { strm, ended } = this.inflate as unknown as { strm: InflateStream; ended: boolean };
      // (Not after the peer ended its zlib stream: pako then handed out the rest itself.)
      if (ok && !this.inflate.err && !ended && strm.next_out > 0) {
        const rest = strm.output.subarray(0, strm.next_out);
        strm.next_out = 0;
        strm.avail_out = strm.output.length;
        this.take(Uint8Array.from(rest));
      }
    } catch (err) {
      if (!(err instanceof BudgetExceeded)) throw err;
      this.output = [];
      this.broken = true;
      throw new SpdyProtocolError(`header block of stream ${streamId} inflates past ${this.maxBlockBytes} bytes`, RstStatus.FRAME_TOO_LARGE, streamId || undefined, true);
    }
    if (!ok || this.inflate.err) throw new SpdyProtocolError(`header block does not decompress: ${this.inflate.msg || 'stream ended'}`);
    const block = this.output.length === 1 ? this.output[0] : Buffer.concat(this.output);
    this.output = [];
    return block;
  }

  /** Keeps one piece of output, or stops the inflater when it would exceed the budget. */
  private take(chunk: Uint8Array): void {
    if (this.outputBytes + chunk.length > this.maxBlockBytes) throw new BudgetExceeded();
    // pako allocates a fresh array per full piece: keep it without copying.
    this.output.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.outputBytes += chunk.length;
    this.peakBlockBytes = Math.max(this.peakBlockBytes, this.outputBytes);
  }
}
