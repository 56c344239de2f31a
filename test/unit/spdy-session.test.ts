import { expect } from 'chai';
import type * as net from 'node:net';
import { Duplex, Writable } from 'node:stream';
import { encodeFrame, Frame, FrameDecoder, HeaderBlock, MAX_HEADER_BLOCK } from '../../src/server/streaming/spdy/frames';
import { HeaderCompressor, HeaderDecompressor } from '../../src/server/streaming/spdy/header-compression';
import { MAX_SEND_BUFFER, SpdySession, SpdyStream } from '../../src/server/streaming/spdy/session';
import { checkPattern, MiB, patternBytes, PatternSource } from '../support/byte-pattern';
import { sleep, socketPair, waitFor } from '../support/socket-pair';

/** A hand-driven SPDY peer: writes frames we choose, records every frame it gets. */
class RawPeer {
  readonly frames: Frame[] = [];
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly decoder = new FrameDecoder((b) => this.decompressor.decompress(b));

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.frames.push(...this.decoder.push(d)));
  }

  send(frame: Frame): void {
    this.socket.write(encodeFrame(frame, (b) => this.compressor.compress(b)));
  }

  synStream(streamId: number, headers: HeaderBlock, flags = 0): void {
    this.send({ type: 'SYN_STREAM', streamId, associatedStreamId: 0, priority: 0, slot: 0, flags, headers });
  }

  of<T extends Frame['type']>(type: T): Array<Extract<Frame, { type: T }>> {
    return this.frames.filter((f): f is Extract<Frame, { type: T }> => f.type === type);
  }

  dataBytes(streamId: number): number {
    return this.of('DATA')
      .filter((f) => f.streamId === streamId)
      .reduce((n, f) => n + f.data.length, 0);
  }
}

describe('SPDY/3.1 session', () => {
  let peer: RawPeer;
  let session: SpdySession;
  let streams: SpdyStream[];

  beforeEach(async () => {
    const [a, b] = await socketPair();
    peer = new RawPeer(a);
    session = new SpdySession(b, { role: 'server' });
    streams = [];
    session.on('stream', (s: SpdyStream) => {
      streams.push(s);
      s.reply();
    });
  });
  afterEach(() => {
    session.destroy();
    peer.socket.destroy();
  });

  it('answers each SYN_STREAM with a SYN_REPLY and exposes its headers', async () => {
    peer.synStream(1, { streamtype: ['error'] });
    peer.synStream(3, { streamtype: ['stdout'] });
    await waitFor(() => peer.of('SYN_REPLY').length === 2, 'two SYN_REPLY');
    expect(peer.of('SYN_REPLY').map((f) => f.streamId)).to.deep.equal([1, 3]);
    expect(streams.map((s) => s.header('streamType'))).to.deep.equal(['error', 'stdout']);
  });

  it('delivers DATA, ends the readable side on FLAG_FIN and sends FIN on end()', async () => {
    peer.synStream(1, { streamtype: ['stdin'] });
    await waitFor(() => streams.length === 1, 'stream');
    const got: Buffer[] = [];
    streams[0].on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => streams[0].once('end', r));
    peer.send({ type: 'DATA', streamId: 1, flags: 0, data: Buffer.from('hello ') });
    peer.send({ type: 'DATA', streamId: 1, flags: 1, data: Buffer.from('world') });
    await ended;
    expect(Buffer.concat(got).toString()).to.equal('hello world');
    streams[0].end('bye');
    await waitFor(() => peer.of('DATA').some((f) => f.flags === 1), 'FIN');
    const data = peer.of('DATA');
    expect(Buffer.concat(data.map((f) => f.data)).toString()).to.equal('bye');
    expect(data[data.length - 1]).to.include({ streamId: 1, flags: 1 });
    expect(session.streamCount).to.equal(0);
  });

  it('echoes the peer PING and answers its own PING', async () => {
    peer.send({ type: 'PING', id: 7 });
    await waitFor(() => peer.of('PING').length === 1, 'PING echo');
    expect(peer.of('PING')[0].id).to.equal(7);
    const rtt = session.ping();
    await waitFor(() => peer.of('PING').length === 2, 'server PING');
    const id = peer.of('PING')[1].id;
    expect(id % 2).to.equal(0); // the server's pings have even IDs
    peer.send({ type: 'PING', id });
    expect(await rtt).to.be.a('number');
  });

  it('resets with RST_STREAM and reports the peer reset on the stream', async () => {
    peer.synStream(1, { streamtype: ['stdout'] });
    peer.synStream(3, { streamtype: ['stderr'] });
    await waitFor(() => streams.length === 2, 'streams');
    const resetSeen = new Promise<number>((r) => streams[1].once('reset', r));
    streams[0].reset(5);
    peer.send({ type: 'RST_STREAM', streamId: 3, status: 5 });
    expect(await resetSeen).to.equal(5);
    await waitFor(() => peer.of('RST_STREAM').length === 1, 'RST_STREAM');
    expect(peer.of('RST_STREAM')[0]).to.deep.equal({ type: 'RST_STREAM', streamId: 1, status: 5 });
    // writes after a reset are dropped, not errors
    streams[0].write('ignored');
    await sleep(50);
    expect(peer.dataBytes(1)).to.equal(0);
    expect(session.streamCount).to.equal(0);
  });

  it('answers DATA on an unknown stream with RST_STREAM INVALID_STREAM', async () => {
    peer.send({ type: 'DATA', streamId: 9, flags: 0, data: Buffer.from('x') });
    await waitFor(() => peer.of('RST_STREAM').length === 1, 'RST_STREAM');
    expect(peer.of('RST_STREAM')[0]).to.deep.equal({ type: 'RST_STREAM', streamId: 9, status: 2 });
  });

  it('ends the session with GOAWAY PROTOCOL_ERROR on a stream ID going backwards', async () => {
    peer.synStream(5, { streamtype: ['error'] });
    peer.synStream(3, { streamtype: ['error'] });
    await waitFor(() => peer.of('GOAWAY').length === 1, 'GOAWAY');
    expect(peer.of('GOAWAY')[0]).to.deep.equal({ type: 'GOAWAY', lastGoodStreamId: 5, status: 1 });
    expect(session.isDestroyed).to.equal(true);
  });

  it('sends more than 64 KiB to a peer that never does flow control (spdystream)', async () => {
    peer.synStream(1, { streamtype: ['stdout'] });
    await waitFor(() => streams.length === 1, 'stream');
    streams[0].end(Buffer.alloc(200 * 1024, 1));
    await waitFor(() => peer.dataBytes(1) === 200 * 1024, '200 KiB');
  });

  it('holds to the stream window once the peer does SPDY/3.1 flow control, resumes on WINDOW_UPDATE', async () => {
    peer.send({ type: 'SETTINGS', flags: 0, entries: [{ flags: 0, id: 7, value: 65536 }] });
    peer.synStream(1, { streamtype: ['stdout'] });
    await waitFor(() => streams.length === 1, 'stream');
    streams[0].write(Buffer.alloc(100 * 1024, 2));
    await waitFor(() => peer.dataBytes(1) === 65536, '64 KiB');
    await sleep(100);
    expect(peer.dataBytes(1)).to.equal(65536);
    peer.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 10000 });
    peer.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: 10000 });
    await waitFor(() => peer.dataBytes(1) === 75536, '64 KiB + 10000');
    await sleep(100);
    expect(peer.dataBytes(1)).to.equal(75536);
    // the session window is the other limit
    peer.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 1 << 20 });
    await sleep(100);
    expect(peer.dataBytes(1)).to.equal(75536);
    peer.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: 1 << 20 });
    await waitFor(() => peer.dataBytes(1) === 100 * 1024, 'all of it');
  });

  it('credits the peer with stream and session WINDOW_UPDATE as data is consumed', async () => {
    peer.synStream(1, { streamtype: ['stdin'] });
    await waitFor(() => streams.length === 1, 'stream');
    streams[0].resume();
    for (let i = 0; i < 6; i++) peer.send({ type: 'DATA', streamId: 1, flags: 0, data: Buffer.alloc(16 * 1024) });
    await waitFor(() => peer.of('WINDOW_UPDATE').length >= 2, 'WINDOW_UPDATE');
    const updates = peer.of('WINDOW_UPDATE');
    const credited = (id: number): number => updates.filter((u) => u.streamId === id).reduce((n, u) => n + u.delta, 0);
    expect(credited(1)).to.be.at.least(32 * 1024);
    expect(credited(0)).to.be.at.least(32 * 1024);
  });

  it('closes the session after the idle timeout', async () => {
    const [a, b] = await socketPair();
    const idlePeer = new RawPeer(a);
    const idle = new SpdySession(b, { role: 'server', idleTimeoutMs: 200 });
    const closed = new Promise<string | undefined>((r) => idle.once('close', r));
    expect(await closed).to.match(/idle/);
    await waitFor(() => idlePeer.of('GOAWAY').length === 1, 'GOAWAY');
    a.destroy();
  });

  it('lets a client open streams and wait for SYN_REPLY (client and server on one framer)', async () => {
    const [a, b] = await socketPair();
    const server = new SpdySession(b, { role: 'server' });
    server.on('stream', (s: SpdyStream) => {
      s.reply();
      s.pipe(s); // echo
    });
    const client = new SpdySession(a, { role: 'client' });
    const s = await client.createStream({ streamtype: ['data'] });
    expect(s.id).to.equal(1);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => s.once('end', r));
    s.end(Buffer.alloc(300 * 1024, 7));
    await ended;
    expect(Buffer.concat(chunks).length).to.equal(300 * 1024);
    client.destroy();
    server.destroy();
  });
});

/** Samples `value()` every few ms until stopped; `max` is the largest value seen. */
function sampler(value: () => number): { max: number; stop: () => void } {
  const s = { max: value(), stop: () => clearInterval(timer) };
  const timer = setInterval(() => (s.max = Math.max(s.max, value())), 2);
  return s;
}

/** A reader that takes `chunk` and then waits a turn of the event loop before asking for more: slow but live. */
function slowReader(onData: (d: Buffer) => void): Writable {
  return new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      onData(chunk);
      setImmediate(cb);
    },
  });
}

describe('SPDY/3.1 session bounds and backpressure', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  /** A server session and a raw peer on a socket pair. */
  async function rawPair(): Promise<{ peer: RawPeer; session: SpdySession; streams: SpdyStream[] }> {
    const [a, b] = await socketPair();
    const peer = new RawPeer(a);
    const session = new SpdySession(b, { role: 'server' });
    const streams: SpdyStream[] = [];
    session.on('stream', (st: SpdyStream) => {
      streams.push(st);
      st.reply();
    });
    cleanup.push(() => {
      session.destroy();
      a.destroy();
    });
    return { peer, session, streams };
  }

  /** A server and a client session on a socket pair; `client` options as given. */
  async function sessionPair(clientOpts: { flowControl?: boolean } = {}): Promise<{ server: SpdySession; client: SpdySession; serverSocket: net.Socket; clientSocket: net.Socket; accepted: Promise<SpdyStream> }> {
    const [a, b] = await socketPair();
    const server = new SpdySession(b, { role: 'server' });
    const accepted = new Promise<SpdyStream>((resolve) =>
      server.once('stream', (st: SpdyStream) => {
        st.reply();
        resolve(st);
      }),
    );
    const client = new SpdySession(a, { role: 'client', ...clientOpts });
    cleanup.push(() => {
      client.destroy();
      server.destroy();
    });
    return { server, client, serverSocket: b, clientSocket: a, accepted };
  }

  it('refuses a SYN_STREAM whose header block inflates past 256 KiB (RST_STREAM FRAME_TOO_LARGE, GOAWAY) holding no more than the bound; another session goes on', async () => {
    const { peer, session } = await rawPair();
    const closed = new Promise<string | undefined>((r) => session.once('close', r));
    // 16 MiB of one header value compresses to about 16 KiB.
    peer.synStream(1, { x: ['0'.repeat(16 * MiB)] });
    expect(await closed).to.match(/header block of stream 1 inflates past 262144 bytes/);
    await waitFor(() => peer.of('GOAWAY').length === 1, 'GOAWAY');
    expect(peer.of('RST_STREAM')).to.deep.equal([{ type: 'RST_STREAM', streamId: 1, status: 11 }]);
    expect(peer.of('GOAWAY')[0].status).to.equal(1);
    expect(session.peakHeaderBlockBytes).to.be.at.most(MAX_HEADER_BLOCK);
    expect(peer.of('SYN_REPLY')).to.have.length(0);

    // A legal session, on its own connection, is not affected.
    const other = await rawPair();
    other.peer.synStream(1, { streamtype: ['stdin'] });
    await waitFor(() => other.streams.length === 1, 'stream on the other session');
    other.streams[0].end('still here');
    await waitFor(() => other.peer.dataBytes(1) === 10, 'data on the other session');
  });

  it('refuses a control frame over the bound from its 8-byte header, before buffering its payload', async () => {
    const { peer, session } = await rawPair();
    const closed = new Promise<string | undefined>((r) => session.once('close', r));
    const header = Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00]); // SYN_STREAM, 1 MiB payload
    peer.socket.write(header);
    expect(await closed).to.match(/control frame of 1048576 bytes exceeds the bound/);
    await waitFor(() => peer.of('GOAWAY').length === 1, 'GOAWAY');
  });

  it('accepts a 200 KiB header block and a single 4 MiB DATA frame, delivered in pieces and in order', async () => {
    const { peer, streams } = await rawPair();
    const big = 'h'.repeat(200 * 1024);
    peer.synStream(1, { streamtype: ['stdin'], big: [big] });
    await waitFor(() => streams.length === 1, 'stream');
    expect(streams[0].header('big')).to.equal(big);
    let offset = 0;
    let pieces = 0;
    streams[0].on('data', (d: Buffer) => {
      offset = checkPattern(offset, d);
      pieces++;
    });
    const ended = new Promise((r) => streams[0].once('end', r));
    peer.send({ type: 'DATA', streamId: 1, flags: 1, data: patternBytes(0, 4 * MiB) });
    await ended;
    expect(offset).to.equal(4 * MiB);
    expect(pieces).to.be.greaterThan(1);
  });

  it('stops reading a peer that sends PINGs but does not read the replies, once 1 MiB of replies wait', async () => {
    // A transport whose writes complete only when the test says so: the peer is not reading.
    let held: (() => void) | undefined;
    let stuck = true;
    let written = 0;
    const transport = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (stuck) held = () => cb();
        else cb();
      },
    });
    const session = new SpdySession(transport, { role: 'server' });
    cleanup.push(() => session.destroy());
    const ping = encodeFrame({ type: 'PING', id: 1 }, () => Buffer.alloc(0));
    const flood = Buffer.concat(Array.from({ length: 200_000 }, () => ping)); // 2.4 MB of PINGs
    for (let at = 0; at < flood.length; at += 64 * 1024) transport.push(flood.subarray(at, at + 64 * 1024));
    await waitFor(() => session.readPaused, 'the session paused');
    expect(session.sendBufferedBytes).to.be.below(MAX_SEND_BUFFER + 64 * 1024);
    expect(written).to.be.below(flood.length);
    // The peer reads again: every PING is answered.
    stuck = false;
    held?.();
    await waitFor(() => written === flood.length, 'every PING answered', 60_000);
  });

  it('refuses streams past maxConcurrentStreams with RST_STREAM REFUSED_STREAM', async () => {
    const [a, b] = await socketPair();
    const peer = new RawPeer(a);
    const session = new SpdySession(b, { role: 'server', maxConcurrentStreams: 2 });
    cleanup.push(() => {
      session.destroy();
      a.destroy();
    });
    session.on('stream', (st: SpdyStream) => st.reply());
    for (const id of [1, 3, 5]) peer.synStream(id, { streamtype: ['data'] });
    await waitFor(() => peer.of('RST_STREAM').length === 1, 'RST_STREAM');
    expect(peer.of('RST_STREAM')[0]).to.deep.equal({ type: 'RST_STREAM', streamId: 5, status: 3 });
    expect(peer.of('SYN_REPLY').map((f) => f.streamId)).to.deep.equal([1, 3]);
  });

  it('pauses reading for a stuck reader when the peer ignores windows (spdystream): 300 MiB offered, under 1 MiB held; released, every byte arrives in order', async () => {
    const { server, client, clientSocket, accepted } = await sessionPair({ flowControl: false });
    const out = await client.createStream({ streamtype: ['stdin'] });
    const inbound = await accepted;
    const source = new PatternSource(300 * MiB);
    source.pipe(out);
    const held = sampler(() => server.receiveBufferedBytes);
    cleanup.push(held.stop);
    // Stuck: nobody reads `inbound`. The server stops reading, the client's socket backs up, the source stops.
    await waitFor(() => server.readPaused && clientSocket.writableNeedDrain, 'the server paused and the client blocked', 20_000);
    const producedWhenStuck = source.produced;
    expect(server.receiveBufferedBytes).to.be.below(MiB);
    expect(producedWhenStuck).to.be.below(64 * MiB);
    // Released: a reader that takes everything gets the bytes in order (the first 16 MiB, then it stops).
    let offset = 0;
    inbound.on('data', (d: Buffer) => (offset = checkPattern(offset, d)));
    await waitFor(() => offset >= 16 * MiB, '16 MiB read', 60_000);
    held.stop();
    expect(held.max).to.be.below(MiB);
  });

  it('bounds a stuck reader by window when the peer does flow control: it stops at 64 KiB and the session stays live (PING)', async () => {
    const { server, client, accepted } = await sessionPair();
    const out = await client.createStream({ streamtype: ['stdin'] });
    const inbound = await accepted;
    const source = new PatternSource(300 * MiB);
    source.pipe(out);
    await waitFor(() => inbound.readableLength === 64 * 1024, '64 KiB buffered');
    expect(server.readPaused).to.equal(false);
    expect(await client.ping()).to.be.a('number');
    expect(inbound.readableLength).to.equal(64 * 1024);
    expect(server.receiveBufferedBytes).to.be.at.most(64 * 1024);
    expect(source.produced).to.be.below(MiB);
  });

  it('resets a stream with FLOW_CONTROL_ERROR when a peer that does flow control sends past the window', async () => {
    const { peer, streams } = await rawPair();
    peer.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: 1 }); // the peer does flow control
    peer.synStream(1, { streamtype: ['stdin'] });
    await waitFor(() => streams.length === 1, 'stream');
    for (let i = 0; i < 10; i++) peer.send({ type: 'DATA', streamId: 1, flags: 0, data: Buffer.alloc(16 * 1024) });
    await waitFor(() => peer.of('RST_STREAM').length === 1, 'RST_STREAM');
    expect(peer.of('RST_STREAM')[0]).to.deep.equal({ type: 'RST_STREAM', streamId: 1, status: 7 });
  });

  for (const flowControl of [false, true]) {
    it(`stops taking a writer's data while the peer does not read (${flowControl ? 'windows' : 'no flow control'}): 300 MiB offered, under 1 MiB held; a slow reader then gets every byte in order`, async () => {
      const { server, client, accepted } = await sessionPair({ flowControl });
      const inboundAtClient = await client.createStream({ streamtype: ['stdout'] });
      const outbound = await accepted;
      const source = new PatternSource(300 * MiB);
      source.pipe(outbound);
      const held = sampler(() => server.sendBufferedBytes + client.receiveBufferedBytes);
      cleanup.push(held.stop);
      // The client's reader is stuck: the server stops taking data from the source.
      await waitFor(() => outbound.writableNeedDrain && (flowControl || client.readPaused), 'the writer blocked', 20_000);
      expect(server.sendBufferedBytes).to.be.below(MiB);
      expect(source.produced).to.be.below(64 * MiB);
      // A slow but live reader: the first 32 MiB, every byte in order.
      let offset = 0;
      const done = new Promise<void>((resolve) => {
        inboundAtClient.pipe(
          slowReader((d) => {
            offset = checkPattern(offset, d);
            if (offset >= 32 * MiB) resolve();
          }),
        );
      });
      await done;
      held.stop();
      expect(held.max).to.be.below(2 * MiB);
    });
  }
});
