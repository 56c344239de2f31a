import { expect } from 'chai';
import * as hpack from 'hpack.js';
import { AuthorityRewriter, encodeHeaderBlock } from '../../src/server/h2-authority';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/** Splits forwarded bytes into frames and decodes header blocks with a fresh server-side context. */
function parse(bytes: Buffer): { frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }>; headers: Array<Array<[string, string]>> } {
  expect(bytes.subarray(0, 24).equals(PREFACE)).to.equal(true);
  let rest = bytes.subarray(24);
  const frames = [];
  while (rest.length) {
    const len = rest.readUIntBE(0, 3);
    frames.push({ type: rest[3], flags: rest[4], streamId: rest.readUInt32BE(5), payload: rest.subarray(9, 9 + len) });
    rest = rest.subarray(9 + len);
  }
  const decoder = hpack.decompressor.create({ table: { size: 4096 } });
  const headers: Array<Array<[string, string]>> = [];
  let block: Buffer[] = [];
  for (const f of frames) {
    if (f.type === 1) block = [f.flags & 0x20 ? f.payload.subarray(5) : f.payload];
    else if (f.type === 9) block.push(f.payload);
    else continue;
    if (f.flags & 0x4) {
      decoder.write(Buffer.concat(block));
      decoder.execute();
      const list: Array<[string, string]> = [];
      for (let h = decoder.read(); h; h = decoder.read()) list.push([h.name, h.value]);
      headers.push(list);
    }
  }
  return { frames, headers };
}

describe('HTTP/2 :authority rewriting', () => {
  it('replaces a socket path authority by localhost and keeps the other headers', () => {
    const block = encodeHeaderBlock([
      { name: ':method', value: 'POST' },
      { name: ':path', value: '/runtime.v1.RuntimeService/Version' },
      { name: ':authority', value: '/run/peapod/peapod.sock' },
      { name: 'content-type', value: 'application/grpc' },
    ]);
    const settings = frame(4, 0, 0, Buffer.alloc(0));
    const r = new AuthorityRewriter();
    const input = Buffer.concat([PREFACE, settings, frame(1, 0x4, 1, block), frame(0, 0x1, 1, Buffer.from('data'))]);
    // Feed byte by byte: frames split across reads must still work.
    const out = Buffer.concat([...input].map((b) => r.push(Buffer.from([b]))));
    const { frames, headers } = parse(out);
    expect(frames.map((f) => f.type)).to.deep.equal([4, 1, 0]);
    expect(frames[2].payload.toString()).to.equal('data');
    expect(headers[0]).to.deep.equal([
      [':method', 'POST'],
      [':path', '/runtime.v1.RuntimeService/Version'],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
    ]);
  });

  it('leaves a valid authority alone and joins CONTINUATION frames, dropping padding', () => {
    const block = encodeHeaderBlock([
      { name: ':authority', value: 'localhost:1234' },
      { name: 'x-big', value: 'v'.repeat(20_000) },
    ]);
    const padded = Buffer.concat([Buffer.from([3]), block.subarray(0, 100), Buffer.alloc(3)]);
    const input = Buffer.concat([PREFACE, frame(1, 0x8 | 0x1, 3, padded), frame(9, 0x4, 3, block.subarray(100))]);
    const { frames, headers } = parse(new AuthorityRewriter().push(input));
    expect(frames[0].type).to.equal(1);
    expect(frames[0].flags & 0x1).to.equal(0x1); // END_STREAM kept
    expect(frames[0].flags & 0x8).to.equal(0); // no padding
    expect(frames[frames.length - 1].flags & 0x4).to.equal(0x4);
    for (const f of frames) expect(f.payload.length).to.be.at.most(16_384);
    expect(headers[0][0]).to.deep.equal([':authority', 'localhost:1234']);
    expect(headers[0][1][1].length).to.equal(20_000);
  });

  it('refuses a stream that is not HTTP/2', () => {
    expect(() => new AuthorityRewriter().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).to.throw('preface');
  });
});
