import { expect } from 'chai';
import type * as net from 'node:net';
import { encodeFrame, Frame, FrameDecoder, HeaderBlock } from '../../src/server/streaming/spdy/frames';
import { HeaderCompressor, HeaderDecompressor } from '../../src/server/streaming/spdy/header-compression';
import { SpdySession, SpdyStream } from '../../src/server/streaming/spdy/session';
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
