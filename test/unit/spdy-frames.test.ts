import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from '../../src/server/streaming/spdy/dictionary';
import { decodeHeaderBlock, encodeFrame, encodeHeaderBlock, Frame, FrameDecoder, MAX_HEADER_BLOCK, SpdyProtocolError } from '../../src/server/streaming/spdy/frames';
import { HeaderCompressor, HeaderDecompressor } from '../../src/server/streaming/spdy/header-compression';

/** Bytes from a hex string with optional spaces. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** A 32-bit big-endian length followed by the ASCII text: the header block's building block. */
function lp(s: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Buffer.byteLength(s));
  return Buffer.concat([b, Buffer.from(s)]);
}

/**
 * node:zlib (an independent zlib) as the peer's compressor: one deflate
 * context with the SPDY dictionary, each block ended by Z_SYNC_FLUSH.
 */
class NodeZlibContext {
  private readonly z: zlib.Deflate | zlib.Inflate;
  private chunks: Buffer[] = [];

  constructor(kind: 'deflate' | 'inflate') {
    this.z = kind === 'deflate' ? zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }) : zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
  }

  async run(input: Buffer): Promise<Buffer> {
    this.chunks = [];
    this.z.write(input);
    await new Promise<void>((resolve) => this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise((r) => setImmediate(r));
    return Buffer.concat(this.chunks);
  }
}

const noCompress = (): Buffer => {
  throw new Error('no header block expected');
};

describe('SPDY/3.1 framer', () => {
  it('builds the SPDY/3 header dictionary byte for byte (1423 bytes, digest of the spec bytes)', () => {
    expect(SPDY3_DICTIONARY.length).to.equal(1423);
    expect(SPDY3_DICTIONARY.subarray(0, 11)).to.deep.equal(hex('00 00 00 07 6f 70 74 69 6f 6e 73')); // "options"
    expect(createHash('sha256').update(SPDY3_DICTIONARY).digest('hex')).to.equal('51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
  });

  it('encodes a control frame header: C bit, version 3, type, flags, 24-bit length (PING)', () => {
    const bytes = encodeFrame({ type: 'PING', id: 0x01020304 }, noCompress);
    expect(bytes).to.deep.equal(hex('8003 0006 00 000004 01020304'));
    const frames = new FrameDecoder(noCompress).push(bytes);
    expect(frames).to.deep.equal([{ type: 'PING', id: 0x01020304 }]);
  });

  it('encodes and decodes DATA frames with and without FLAG_FIN', () => {
    expect(encodeFrame({ type: 'DATA', streamId: 5, flags: 0, data: Buffer.from('abc') }, noCompress)).to.deep.equal(hex('00000005 00 000003 616263'));
    expect(encodeFrame({ type: 'DATA', streamId: 0x7fffffff, flags: 1, data: Buffer.alloc(0) }, noCompress)).to.deep.equal(hex('7fffffff 01 000000'));
    const frames = new FrameDecoder(noCompress).push(hex('00000003 01 000002 6869'));
    expect(frames).to.deep.equal([{ type: 'DATA', streamId: 3, flags: 1, data: Buffer.from('hi') }]);
  });

  it('serializes a header block: 32-bit count, length-prefixed names and NUL-joined values', () => {
    const block = encodeHeaderBlock({ streamType: ['error'], port: ['80', '8080'] });
    expect(block).to.deep.equal(Buffer.concat([hex('00000002'), lp('streamtype'), lp('error'), lp('port'), lp('80\u00008080')]));
    expect(decodeHeaderBlock(block, 1)).to.deep.equal({ streamtype: ['error'], port: ['80', '8080'] });
    expect(() => decodeHeaderBlock(Buffer.concat([hex('00000002'), lp('a'), lp('1'), lp('a'), lp('2')]), 1)).to.throw(SpdyProtocolError, /twice/);
    expect(() => decodeHeaderBlock(hex('00000001 00000005 6162'), 1)).to.throw(SpdyProtocolError, /truncated/);
  });

  it('decodes a SYN_STREAM built byte by byte, header block compressed by node:zlib with the dictionary', async () => {
    const peer = new NodeZlibContext('deflate');
    const block = Buffer.concat([hex('00000001'), lp('streamtype'), lp('stdout')]);
    const compressed = await peer.run(block);
    const payload = Buffer.concat([hex('00000003'), hex('00000000'), hex('60'), hex('00'), compressed]);
    const len = Buffer.alloc(3);
    len.writeUIntBE(payload.length, 0, 3);
    const frame = Buffer.concat([hex('8003 0001 01'), len, payload]); // flags FIN
    const ours = new HeaderDecompressor();
    const frames = new FrameDecoder((b) => ours.decompress(b)).push(frame);
    expect(frames).to.deep.equal([
      { type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 3, slot: 0, flags: 1, headers: { streamtype: ['stdout'] } },
    ]);
  });

  it('keeps one zlib context per direction across frames (our compressor, node:zlib inflater)', async () => {
    const ours = new HeaderCompressor();
    const peer = new NodeZlibContext('inflate');
    const headers = { streamtype: ['error'], port: ['8080'], requestid: ['0'] };
    const frames: Frame[] = [
      { type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers },
      { type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers: { ...headers, streamtype: ['data'] } },
      { type: 'SYN_REPLY', streamId: 3, flags: 0, headers: {} },
      { type: 'HEADERS', streamId: 3, flags: 1, headers: { a: ['b'] } },
    ];
    const sizes: number[] = [];
    for (const f of frames) {
      const bytes = encodeFrame(f, (b) => ours.compress(b));
      const fixed = f.type === 'SYN_STREAM' ? 18 : 12;
      expect(bytes.readUInt32BE(4) & 0xffffff).to.equal(bytes.length - 8);
      const compressed = bytes.subarray(fixed);
      sizes.push(compressed.length);
      const block = await peer.run(compressed);
      expect(decodeHeaderBlock(block, 1)).to.deep.equal((f as { headers: object }).headers);
    }
    // The second, similar block compresses far better: the context carried over.
    expect(sizes[1]).to.be.lessThan(sizes[0]);
  });

  it('decodes several frames compressed by one node:zlib context, delivered one byte at a time', async () => {
    const peer = new NodeZlibContext('deflate');
    const wire: Buffer[] = [];
    for (const [id, type] of [
      [1, 'error'],
      [3, 'stdin'],
      [5, 'stdout'],
    ] as const) {
      const c = await peer.run(Buffer.concat([hex('00000001'), lp('streamtype'), lp(type)]));
      const payload = Buffer.concat([Buffer.from([0, 0, 0, id]), hex('00000000 0000'), c]);
      const len = Buffer.alloc(3);
      len.writeUIntBE(payload.length, 0, 3);
      wire.push(Buffer.concat([hex('8003 0001 00'), len, payload]));
    }
    const all = Buffer.concat(wire);
    const ours = new HeaderDecompressor();
    const dec = new FrameDecoder((b) => ours.decompress(b));
    const got: Frame[] = [];
    for (let i = 0; i < all.length; i++) got.push(...dec.push(all.subarray(i, i + 1)));
    expect(got.map((f) => (f.type === 'SYN_STREAM' ? [f.streamId, f.headers.streamtype[0]] : null))).to.deep.equal([
      [1, 'error'],
      [3, 'stdin'],
      [5, 'stdout'],
    ]);
    expect(dec.pendingBytes).to.equal(0);
  });

  it('encodes WINDOW_UPDATE (stream and session) and rejects a zero delta', () => {
    expect(encodeFrame({ type: 'WINDOW_UPDATE', streamId: 5, delta: 0x1000 }, noCompress)).to.deep.equal(hex('8003 0009 00 000008 00000005 00001000'));
    expect(encodeFrame({ type: 'WINDOW_UPDATE', streamId: 0, delta: 0x7fffffff }, noCompress)).to.deep.equal(hex('8003 0009 00 000008 00000000 7fffffff'));
    expect(new FrameDecoder(noCompress).push(hex('8003 0009 00 000008 00000000 00010000'))).to.deep.equal([{ type: 'WINDOW_UPDATE', streamId: 0, delta: 65536 }]);
    expect(() => new FrameDecoder(noCompress).push(hex('8003 0009 00 000008 00000001 00000000'))).to.throw(SpdyProtocolError, /delta 0/);
  });

  it('encodes RST_STREAM with its status codes and rejects status 0 and stream 0', () => {
    expect(encodeFrame({ type: 'RST_STREAM', streamId: 7, status: 5 }, noCompress)).to.deep.equal(hex('8003 0003 00 000008 00000007 00000005'));
    expect(new FrameDecoder(noCompress).push(hex('8003 0003 00 000008 00000003 00000003'))).to.deep.equal([{ type: 'RST_STREAM', streamId: 3, status: 3 }]);
    expect(() => new FrameDecoder(noCompress).push(hex('8003 0003 00 000008 00000003 00000000'))).to.throw(SpdyProtocolError);
    expect(() => new FrameDecoder(noCompress).push(hex('8003 0003 00 000008 00000000 00000001'))).to.throw(SpdyProtocolError);
  });

  it('encodes GOAWAY with the last good stream ID and status', () => {
    expect(encodeFrame({ type: 'GOAWAY', lastGoodStreamId: 9, status: 1 }, noCompress)).to.deep.equal(hex('8003 0007 00 000008 00000009 00000001'));
    expect(new FrameDecoder(noCompress).push(hex('8003 0007 00 000008 80000005 00000000'))).to.deep.equal([{ type: 'GOAWAY', lastGoodStreamId: 5, status: 0 }]);
  });

  it('encodes SETTINGS entries (flags, 24-bit ID, value)', () => {
    const bytes = encodeFrame({ type: 'SETTINGS', flags: 0, entries: [{ flags: 0, id: 7, value: 65536 }] }, noCompress);
    expect(bytes).to.deep.equal(hex('8003 0004 00 00000c 00000001 00000007 00010000'));
    expect(new FrameDecoder(noCompress).push(hex('8003 0004 01 000014 00000002 01000004 00000064 00000007 00008000'))).to.deep.equal([
      {
        type: 'SETTINGS',
        flags: 1,
        entries: [
          { flags: 1, id: 4, value: 100 },
          { flags: 0, id: 7, value: 0x8000 },
        ],
      },
    ]);
  });

  it('rejects a control frame of another version or a wrong length, ignores unknown types', () => {
    expect(() => new FrameDecoder(noCompress).push(hex('8002 0006 00 000004 00000001'))).to.throw(SpdyProtocolError, /version 2/);
    expect(() => new FrameDecoder(noCompress).push(hex('8003 0006 00 000005 00000001 00'))).to.throw(SpdyProtocolError, /PING/);
    expect(new FrameDecoder(noCompress).push(hex('8003 000a 00 000002 abcd'))).to.deep.equal([{ type: 'UNKNOWN', frameType: 10, flags: 0, payload: hex('abcd') }]);
  });

  it('hands a DATA frame on in pieces as its bytes arrive: FLAG_FIN on the last piece, continued on all but the first', () => {
    const dec = new FrameDecoder(noCompress);
    const wire = encodeFrame({ type: 'DATA', streamId: 3, flags: 1, data: Buffer.from('abcdefgh') }, noCompress);
    expect(dec.push(wire.subarray(0, 11))).to.deep.equal([{ type: 'DATA', streamId: 3, flags: 0, data: Buffer.from('abc') }]);
    expect(dec.pendingBytes).to.equal(0);
    expect(dec.push(wire.subarray(11, 14))).to.deep.equal([{ type: 'DATA', streamId: 3, flags: 0, data: Buffer.from('def'), continued: true }]);
    expect(dec.push(wire.subarray(14))).to.deep.equal([{ type: 'DATA', streamId: 3, flags: 1, data: Buffer.from('gh'), continued: true }]);
    // A frame header claiming 16 MiB of DATA is fine: nothing is held for it.
    expect(dec.push(hex('00000005 00 ffffff 61'))).to.deep.equal([{ type: 'DATA', streamId: 5, flags: 0, data: Buffer.from('a') }]);
    expect(dec.pendingBytes).to.equal(0);
  });

  it('refuses a control frame over the bound from its header, and stops inflating a header block at the budget', () => {
    expect(() => new FrameDecoder(noCompress, 100).push(hex('8003 0001 00 000065'))).to.throw(SpdyProtocolError, /control frame of 101 bytes/);
    const ours = new HeaderCompressor();
    const theirs = new HeaderDecompressor();
    const ok = encodeHeaderBlock({ a: ['b'.repeat(100_000)] });
    expect(theirs.decompress(ours.compress(ok), 1)).to.deep.equal(ok);
    const bomb = ours.compress(encodeHeaderBlock({ a: ['b'.repeat(4 * 1024 * 1024)] }));
    expect(bomb.length).to.be.below(16 * 1024);
    let caught: unknown;
    try {
      theirs.decompress(bomb, 3);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(SpdyProtocolError);
    expect(caught).to.include({ status: 11, streamId: 3, fatal: true });
    expect(theirs.peakBlockBytes).to.be.at.most(MAX_HEADER_BLOCK);
    // The context is out of step with the peer's now: it refuses further blocks.
    expect(() => theirs.decompress(ours.compress(encodeHeaderBlock({ a: ['b'] })), 5)).to.throw(SpdyProtocolError, /out of step/);
  });

  it('decodes a last header block whose zlib stream the peer ended (Z_FINISH) without repeating its tail', () => {
    const block = encodeHeaderBlock({ streamtype: ['error'], x: ['y'.repeat(5000)] });
    const finished = zlib.deflateSync(block, { dictionary: SPDY3_DICTIONARY });
    expect(new HeaderDecompressor().decompress(finished, 1)).to.deep.equal(block);
  });
});
