import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeHeaderBlock } from '../../src/server/h2-authority';
import { handOverConnection, HandoverPath, MAX_SNIFF_BYTES, scanClientStart } from '../../src/server/h2-handover';
import { waitFor } from '../integration/helpers/wait';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SOCKET_PATH_AUTHORITY = '/run/peapod/peapod.sock';

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}
const SETTINGS = frame(0x4, 0, 0);
const SETTINGS_ACK = frame(0x4, 0x1, 0);
/** A GET on stream `id`: one HEADERS frame, END_STREAM and END_HEADERS. */
function request(id: number, authority: string): Buffer {
  return frame(0x1, 0x5, id, encodeHeaderBlock([
    { name: ':method', value: 'GET' },
    { name: ':scheme', value: 'http' },
    { name: ':path', value: `/req-${id}` },
    { name: ':authority', value: authority },
  ]));
}

/** An HTTP/2 server (Node's, as grpc-js uses) behind handOverConnection on a unix socket. */
async function serve(timeoutMs?: number) {
  const server = http2.createServer();
  const seen: Array<{ authority: string; path: string }> = [];
  server.on('stream', (stream, h) => {
    seen.push({ authority: String(h[':authority']), path: String(h[':path']) });
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const paths: HandoverPath[] = [];
  const errors: Error[] = [];
  const listener = net.createServer((socket) =>
    handOverConnection(socket, (c) => server.emit('connection', c), (err) => errors.push(err), { onHandover: (p) => paths.push(p), timeoutMs }),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-h2h-'));
  const socketPath = path.join(dir, 'cri.sock');
  await new Promise<void>((resolve) => listener.listen(socketPath, () => resolve()));
  return {
    socketPath,
    seen,
    paths,
    errors,
    close() {
      listener.close();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A raw HTTP/2 client: sends what it is told, ACKs the server's SETTINGS
 * once `ackSettings` allows, and collects the frames the server sends.
 */
function rawClient(socketPath: string) {
  const sock = net.connect(socketPath);
  const frames: Array<{ type: number; flags: number; streamId: number }> = [];
  let buf = Buffer.alloc(0);
  let acking = false;
  let pendingAcks = 0;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const f = { type: buf[3], flags: buf[4], streamId: buf.readUInt32BE(5) & 0x7fffffff };
      frames.push(f);
      buf = buf.subarray(9 + len);
      if (f.type === 0x4 && !(f.flags & 0x1)) {
        if (acking) sock.write(SETTINGS_ACK);
        else pendingAcks++;
      }
    }
  });
  sock.on('error', () => undefined);
  return {
    sock,
    frames,
    /** From now on every SETTINGS of the server is acknowledged (those seen so far at once). */
    ackSettings(): void {
      acking = true;
      for (; pendingAcks > 0; pendingAcks--) sock.write(SETTINGS_ACK);
    },
    /** The server's frames of stream `id` include a HEADERS frame (its response). */
    answered(id: number): boolean {
      return frames.some((f) => f.type === 0x1 && f.streamId === id);
    },
    /** GOAWAY (7) or RST_STREAM (3) received. */
    refused(): boolean {
      return frames.some((f) => f.type === 0x7 || f.type === 0x3);
    },
  };
}

async function nodeClientRequests(socketPath: string, count: number, authority?: string): Promise<void> {
  const client = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
  try {
    for (let n = 0; n < count; n++) {
      const req = client.request({ ':path': `/n-${n}`, ...(authority ? { ':authority': authority } : {}) });
      req.end();
      await new Promise<void>((resolve, reject) => {
        req.resume();
        req.on('end', resolve);
        req.on('error', reject);
      });
    }
  } finally {
    client.close();
  }
}

describe('HTTP/2 connection hand-over (raw socket or :authority rewriter)', () => {
  it('hands a client with a valid :authority the raw socket; every request is served', async () => {
    const s = await serve();
    try {
      await nodeClientRequests(s.socketPath, 30);
    } finally {
      s.close();
    }
    expect(s.errors).to.deep.equal([]);
    expect(s.paths).to.deep.equal(['raw']);
    expect(s.seen.map((x) => x.path)).to.deep.equal(Array.from({ length: 30 }, (_, n) => `/n-${n}`));
    expect(new Set(s.seen.map((x) => x.authority))).to.deep.equal(new Set(['localhost:80']));
  });

  it('sends a client with a socket path :authority through the rewriter; every request is served', async () => {
    const s = await serve();
    try {
      await nodeClientRequests(s.socketPath, 30, SOCKET_PATH_AUTHORITY);
    } finally {
      s.close();
    }
    expect(s.errors).to.deep.equal([]);
    expect(s.paths).to.deep.equal(['rewritten']);
    expect(s.seen).to.have.length(30);
    for (const x of s.seen) expect(x.authority).to.match(/^[_a-z.]+$/);
  });

  for (const [kind, authority, expected] of [
    ['a valid', 'localhost', 'raw'],
    ['a socket path', SOCKET_PATH_AUTHORITY, 'rewritten'],
  ] as const) {
    it(`serves a client that waits for the server's SETTINGS before its first request (grpc-go), with ${kind} :authority`, async () => {
      const s = await serve();
      const c = rawClient(s.socketPath);
      try {
        c.sock.write(Buffer.concat([PREFACE, SETTINGS]));
        // Nothing is sent until the server's preface (a SETTINGS frame) has come.
        await waitFor(() => c.frames.some((f) => f.type === 0x4 && !(f.flags & 0x1)), 10_000, "the server's SETTINGS");
        c.ackSettings();
        c.sock.write(request(1, authority));
        await waitFor(() => c.answered(1) || c.refused(), 10_000, 'the answer to stream 1');
        c.sock.write(request(3, authority));
        await waitFor(() => c.answered(3) || c.refused(), 10_000, 'the answer to stream 3');
      } finally {
        c.sock.destroy();
        s.close();
      }
      expect(c.refused()).to.equal(false);
      expect(s.errors).to.deep.equal([]);
      expect(s.paths).to.deep.equal([expected]);
      expect(s.seen.map((x) => x.path)).to.deep.equal(['/req-1', '/req-3']);
    });
  }

  it('past its wait, goes through the rewriter, which drops the acknowledgement of its SETTINGS when it comes late', async () => {
    const s = await serve(50);
    const c = rawClient(s.socketPath);
    try {
      c.sock.write(Buffer.concat([PREFACE, SETTINGS]));
      await waitFor(() => s.paths.length > 0, 10_000, 'the hand-over after the wait');
      // The ACK of the hand-over's SETTINGS (and of the server's own) only now: the server must not see the first.
      c.ackSettings();
      c.sock.write(request(1, 'localhost'));
      await waitFor(() => c.answered(1) || c.refused(), 10_000, 'the answer to stream 1');
    } finally {
      c.sock.destroy();
      s.close();
    }
    expect(c.refused()).to.equal(false);
    expect(s.paths).to.deep.equal(['rewritten']);
    expect(s.seen.map((x) => x.path)).to.deep.equal(['/req-1']);
  });

  it(`reads at most ${MAX_SNIFF_BYTES} bytes before it decides: more frames before the first request go through the rewriter`, async () => {
    const s = await serve();
    const c = rawClient(s.socketPath);
    try {
      c.sock.write(Buffer.concat([PREFACE, SETTINGS]));
      await waitFor(() => c.frames.some((f) => f.type === 0x4), 10_000, "the server's SETTINGS");
      c.ackSettings();
      // WINDOW_UPDATE +1 on the connection, many times: ordinary frames the server answers with nothing.
      const update = frame(0x8, 0, 0, Buffer.from([0, 0, 0, 1]));
      c.sock.write(Buffer.concat(Array.from({ length: Math.ceil(MAX_SNIFF_BYTES / update.length) + 1 }, () => update)));
      c.sock.write(request(1, 'localhost'));
      await waitFor(() => c.answered(1) || c.refused(), 10_000, 'the answer to stream 1');
    } finally {
      c.sock.destroy();
      s.close();
    }
    expect(c.refused()).to.equal(false);
    expect(s.paths).to.deep.equal(['rewritten']);
  });

  it('closes a connection that does not start with the HTTP/2 preface, and says why', async () => {
    const s = await serve();
    const sock = net.connect(s.socketPath);
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.resume();
    try {
      sock.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await waitFor(() => closed, 10_000, 'the connection closed');
    } finally {
      sock.destroy();
      s.close();
    }
    expect(s.errors.map((e) => e.message)).to.deep.equal(['not an HTTP/2 connection preface']);
    expect(s.paths).to.deep.equal([]);
  });

  it('scanClientStart finds the first SETTINGS ACK and the end of the first header block in whole frames only', () => {
    const bytes = Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK, request(1, 'localhost')]);
    expect(scanClientStart(bytes)).to.deep.equal({ notHttp2: false, ackAt: PREFACE.length + 9, firstBlockDone: true });
    expect(scanClientStart(bytes.subarray(0, bytes.length - 1))).to.deep.equal({ notHttp2: false, ackAt: PREFACE.length + 9, firstBlockDone: false });
    expect(scanClientStart(PREFACE.subarray(0, 10)).notHttp2).to.equal(false);
    expect(scanClientStart(Buffer.from('GET / HTTP/1.1\r\n')).notHttp2).to.equal(true);
  });
});
