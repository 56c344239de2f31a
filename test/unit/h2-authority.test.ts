import { expect } from 'chai';
import * as http2 from 'node:http2';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as hpack from 'hpack.js';
import { AuthorityRewriter, encodeHeaderBlock, HEADER_TABLE_SIZE, rewritingConnection } from '../../src/server/h2-authority';

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
  const decoder = hpack.decompressor.create({ table: { maxSize: 4096 } });
  const headers: Array<Array<[string, string]>> = [];
  let block: Buffer[] = [];
  for (const f of frames) {
    if (f.type === 1) {
      const pad = f.flags & 0x8 ? f.payload[0] : 0;
      const start = (f.flags & 0x8 ? 1 : 0) + (f.flags & 0x20 ? 5 : 0);
      block = [f.payload.subarray(start, f.payload.length - pad)];
    }
    else if (f.type === 9) block.push(f.payload);
    else continue;
    if (f.flags & 0x4) {
      decoder.write(Buffer.concat(block));
      decoder.execute(); // no callback: a decoding error is thrown here
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

  it('leaves a valid authority alone: HEADERS with padding and CONTINUATION pass through untouched', () => {
    const block = encodeHeaderBlock([
      { name: ':authority', value: 'localhost:1234' },
      { name: 'x-big', value: 'v'.repeat(20_000) },
    ]);
    const padded = Buffer.concat([Buffer.from([3]), block.subarray(0, 100), Buffer.alloc(3)]);
    const input = Buffer.concat([PREFACE, frame(1, 0x8 | 0x1, 3, padded), frame(9, 0x4, 3, block.subarray(100))]);
    const out = new AuthorityRewriter().push(input);
    expect(out.equals(input)).to.equal(true);
    const { headers } = parse(out);
    expect(headers[0][0]).to.deep.equal([':authority', 'localhost:1234']);
    expect(headers[0][1][1].length).to.equal(20_000);
  });

  it('repairs a socket path authority in a padded HEADERS + CONTINUATION block: padding dropped, END_STREAM kept, frames within 16 KiB', () => {
    const block = encodeHeaderBlock([
      { name: ':authority', value: '/run/peapod/peapod.sock' },
      { name: 'x-big', value: 'v'.repeat(20_000) },
    ]);
    const padded = Buffer.concat([Buffer.from([3]), block.subarray(0, 10), Buffer.alloc(3)]);
    const input = Buffer.concat([PREFACE, frame(1, 0x8 | 0x1, 3, padded), frame(9, 0x4, 3, block.subarray(10))]);
    const { frames, headers } = parse(new AuthorityRewriter().push(input));
    expect(frames[0].type).to.equal(1);
    expect(frames[0].flags & 0x1).to.equal(0x1);
    expect(frames[0].flags & 0x8).to.equal(0);
    expect(frames.slice(1).map((f) => f.type)).to.deep.equal([9]);
    expect(frames[frames.length - 1].flags & 0x4).to.equal(0x4);
    for (const f of frames) expect(f.payload.length).to.be.at.most(16_384);
    expect(headers[0][0]).to.deep.equal([':authority', 'localhost']);
    expect(headers[0][1][1]).to.equal('v'.repeat(20_000));
  });

  it('refuses a stream that is not HTTP/2', () => {
    expect(() => new AuthorityRewriter().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).to.throw('preface');
  });

  /** A HEADERS frame with END_HEADERS on `streamId` carrying `block`. */
  const headers = (streamId: number, block: Buffer, flags = 0x4): Buffer => frame(1, flags, streamId, block);
  /** A literal with incremental indexing, new name, no Huffman (RFC 7541 §6.2.1). */
  const indexedLiteral = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), encodeHeaderBlock([{ name, value }]).subarray(1)]);

  it('keeps every header of a block that starts with a dynamic table size update, and nothing carries into the next request', () => {
    const r = new AuthorityRewriter();
    // 0x3f 0xe1 0x1f: size update to 4096 (5-bit prefix: 31 + 4065); 0x20: size update to 0.
    const first = Buffer.concat([Buffer.from([0x20, 0x3f, 0xe1, 0x1f]), encodeHeaderBlock([{ name: ':method', value: 'POST' }, { name: ':authority', value: '/run/peapod/peapod.sock' }])]);
    const second = encodeHeaderBlock([{ name: ':method', value: 'GET' }, { name: 'x-next', value: 'yes' }]);
    const out = Buffer.concat([r.push(PREFACE), r.push(headers(1, first)), r.push(headers(3, second))]);
    expect(parse(out).headers).to.deep.equal([
      [
        [':method', 'POST'],
        [':authority', 'localhost'],
      ],
      [
        [':method', 'GET'],
        ['x-next', 'yes'],
      ],
    ]);
  });

  it('evicts its model of the dynamic table within SETTINGS_HEADER_TABLE_SIZE and keeps indexed headers exact over many varied headers', () => {
    const r = new AuthorityRewriter();
    const out: Buffer[] = [r.push(PREFACE)];
    const expected: Array<Array<[string, string]>> = [];
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      const id = `request-${i}-${'v'.repeat(i % 200)}`;
      // Each request inserts a new entry, then refers to it (index 62) and to the previous one (63) when it still exists.
      const parts = [indexedLiteral('x-id', id), Buffer.from([0x80 | 62])];
      const list: Array<[string, string]> = [['x-id', id], ['x-id', id]];
      if (i === 0) {
        parts.push(indexedLiteral(':authority', '/run/peapod/peapod.sock'));
        list.push([':authority', '_run_peapod_peapod.sock']);
      } else {
        // The authority entry is evicted by now for most requests: refer to the previous request's entry instead.
        parts.push(Buffer.from([0x80 | 63]));
        list.push(i === 1 ? [':authority', '_run_peapod_peapod.sock'] : ['x-id', `request-${i - 1}-${'v'.repeat((i - 1) % 200)}`]);
      }
      out.push(r.push(headers(2 * i + 1, Buffer.concat(parts))));
      expected.push(list);
      peak = Math.max(peak, r.dynamicTableSize);
    }
    expect(peak).to.be.at.most(HEADER_TABLE_SIZE);
    expect(r.dynamicTableLength).to.be.lessThan(HEADER_TABLE_SIZE / 32);
    expect(parse(Buffer.concat(out)).headers).to.deep.equal(expected);
  });

  it('passes frames through untouched unless an :authority literal needs repair', () => {
    const r = new AuthorityRewriter();
    const block = encodeHeaderBlock([{ name: ':authority', value: 'localhost:1234' }, { name: 'x', value: 'y' }]);
    const input = Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(6)), headers(1, block), frame(0, 0, 1, Buffer.alloc(40_000, 7))]);
    expect(r.push(input).equals(input)).to.equal(true);
    // Split anywhere, the bytes still come out the same.
    const again = new AuthorityRewriter();
    const pieces = [input.subarray(0, 10), input.subarray(10, 30), input.subarray(30, 35), input.subarray(35, 1000), input.subarray(1000)];
    expect(Buffer.concat(pieces.map((p) => again.push(p))).equals(input)).to.equal(true);
  });

  it('throws at once on a malformed header block (index 0, index past the table, size update over the setting or after a field)', () => {
    const bad = [Buffer.from([0x80]), Buffer.from([0x80 | 62]), Buffer.from([0x3f, 0xe2, 0x1f]), Buffer.concat([Buffer.from([0x82]), Buffer.from([0x20])])];
    for (const block of bad) {
      const r = new AuthorityRewriter();
      r.push(PREFACE);
      expect(() => r.push(headers(1, block)), block.toString('hex')).to.throw(/HPACK/);
    }
  });

  it('carries real HTTP/2 traffic to a Node http2 server: table size changes, varied headers, a socket path authority', async () => {
    const server = http2.createServer({ settings: { headerTableSize: 4096 } });
    const seen: Array<{ authority: string; n: string; extra: string }> = [];
    server.on('stream', (stream, h) => {
      seen.push({ authority: String(h[':authority']), n: String(h['x-n']), extra: String(h['x-extra']) });
      stream.respond({ ':status': 200 });
      stream.end();
    });
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const errors: Error[] = [];
    const listener = net.createServer((socket) => server.emit('connection', rewritingConnection(socket, (err) => errors.push(err))));
    // A unix socket, as the CRI socket is.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-h2-'));
    const socketPath = path.join(dir, 'cri.sock');
    await new Promise<void>((resolve) => listener.listen(socketPath, () => resolve()));
    const client = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    const request = async (n: number): Promise<void> => {
      const req = client.request({ ':path': '/', ':authority': '/run/peapod/peapod.sock', 'x-n': String(n), 'x-extra': `value-${n % 37}-${'e'.repeat(n % 300)}` });
      req.end();
      await new Promise<void>((resolve, reject) => {
        req.on('response', () => undefined);
        req.resume();
        req.on('end', resolve);
        req.on('error', reject);
      });
    };
    try {
      for (let n = 0; n < 150; n++) {
        // Now and then the server changes its header table size: the client's encoder then starts a block with a size update.
        const size = ({ 40: 256, 80: 0, 110: 4096 } as Record<number, number>)[n];
        if (size !== undefined) await new Promise<void>((resolve) => sessions[0].settings({ headerTableSize: size }, () => resolve()));
        await request(n);
      }
    } finally {
      client.close();
      listener.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(errors).to.deep.equal([]);
    expect(seen.map((s) => s.n)).to.deep.equal(Array.from({ length: 150 }, (_, n) => String(n)));
    for (const [n, s] of seen.entries()) {
      expect(s.authority).to.match(/^[_a-z.]+$/);
      expect(s.extra).to.equal(`value-${n % 37}-${'e'.repeat(n % 300)}`);
    }
  });

  /** A unix socket listener whose accepted sockets go to `onSocket`, and a client connected to it. */
  const socketPair = async (onSocket: (socket: net.Socket) => void): Promise<{ client: net.Socket; close: () => void }> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-h2-'));
    const socketPath = path.join(dir, 'cri.sock');
    const listener = net.createServer(onSocket);
    await new Promise<void>((resolve) => listener.listen(socketPath, () => resolve()));
    const client = net.connect(socketPath);
    await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
    return {
      client,
      close: () => {
        client.destroy();
        listener.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  };

  it('rewritingConnection takes the bytes read before it: they go through its own rewriter first, SETTINGS ACKs dropped as asked, then the rest', async () => {
    const ack = frame(4, 0x1, 0, Buffer.alloc(0));
    const authority = (n: number): Buffer => headers(n, encodeHeaderBlock([{ name: ':authority', value: '/run/peapod/peapod.sock' }, { name: 'x-n', value: String(n) }]));
    const before = Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), ack, authority(1).subarray(0, 5)]);
    const after = Buffer.concat([authority(1).subarray(5), ack, authority(3)]);
    const errors: Error[] = [];
    const out: Buffer[] = [];
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const pair = await socketPair((socket) => {
      const duplex = rewritingConnection(socket, (err) => errors.push(err), { bytes: before, dropSettingsAcks: 1 });
      expect(duplex).to.not.equal(undefined);
      duplex!.on('data', (chunk: Buffer) => out.push(chunk));
      duplex!.on('end', ended);
    });
    try {
      pair.client.end(after);
      await done;
    } finally {
      pair.close();
    }
    expect(errors).to.deep.equal([]);
    const { frames, headers: blocks } = parse(Buffer.concat(out));
    // The first ACK was dropped, the second (after the one to drop) kept.
    expect(frames.map((f) => [f.type, f.flags])).to.deep.equal([[4, 0], [1, 0x4], [4, 0x1], [1, 0x4]]);
    expect(blocks).to.deep.equal([
      [[':authority', 'localhost'], ['x-n', '1']],
      [[':authority', 'localhost'], ['x-n', '3']],
    ]);
  });

  it('rewritingConnection refuses malformed bytes read before it: no connection, onError told once, the socket destroyed', async () => {
    const errors: Error[] = [];
    let result: unknown = 'not called';
    const pair = await socketPair((socket) => {
      result = rewritingConnection(socket, (err) => errors.push(err), { bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n'), dropSettingsAcks: 0 });
    });
    try {
      await new Promise<void>((resolve) => pair.client.once('close', () => resolve()));
    } finally {
      pair.close();
    }
    expect(result).to.equal(undefined);
    expect(errors.map((e) => e.message)).to.deep.equal(['not an HTTP/2 connection preface']);
  });
});

