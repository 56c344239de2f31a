/**
 * Backpressure end to end through the remote-command and port-forward
 * protocols, SPDY and WebSocket, against an in-process backend: a consumer
 * that is stuck must not make the server buffer what the client pushes, a
 * client that does not read must stop the producer, and a slow but live
 * reader gets every byte in order. Bounds are asserted on the bytes the
 * session, streams and sockets hold, never on time.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { Duplex, Writable } from 'node:stream';
import pino from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { PortForwardBackend, RemoteCommandBackend, StdioStreams } from '../../src/server/streaming/backend';
import { forwardOutput } from '../../src/common/backpressure';
import { serverPortForwardSlots } from '../../src/server/streaming/port-forward-limit';
import type { ExecStreamRequest } from '../../src/server/streaming/requests';
import { StreamingServer } from '../../src/server/streaming/server';
import { SpdySession, SpdyStream } from '../../src/server/streaming/spdy/session';
import { serveSpdyPortForward } from '../../src/server/streaming/spdy-port-forward';
import { serveSpdyRemoteCommand } from '../../src/server/streaming/spdy-remote-command';
import { MAX_WS_MESSAGE, serveWebSocketRemoteCommand } from '../../src/server/streaming/websocket';
import { checkPattern, MiB, patternBytes, PatternSource } from '../support/byte-pattern';
import { socketPair, waitFor } from '../support/socket-pair';
import { readAll, spdyConnect, spdyPortForwardOnce } from '../support/spdy-client';

const log = pino({ level: process.env.PEAPOD_TEST_LOG ?? 'silent' });

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));
}

/**
 * An in-process backend. exec `ignore-stdin` never reads stdin and exits 0
 * when released; `flood-stdout` writes 300 MiB of the byte pattern to stdout
 * with backpressure. portForward to port 1 never reads and returns when
 * released; to port 2 it echoes.
 */
class TestBackend implements RemoteCommandBackend, PortForwardBackend {
  io: StdioStreams | undefined;
  source: PatternSource | undefined;
  release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  forwards = 0;

  async checkContainer(): Promise<void> {}
  async checkSandbox(): Promise<void> {}

  async exec(_id: string, cmd: string[], io: StdioStreams): Promise<number> {
    this.io = io;
    if (cmd[0] === 'ignore-stdin') {
      await Promise.race([this.released, aborted(io.signal)]);
      return 0;
    }
    const source = new PatternSource(300 * MiB);
    this.source = source;
    await Promise.race([forwardOutput(source, io.stdout), aborted(io.signal)]);
    source.destroy();
    return 0;
  }

  async portForward(_id: string, port: number, stream: Duplex): Promise<void> {
    this.forwards++;
    if (port === 1) {
      await this.released;
      return;
    }
    await forwardOutput(stream, stream);
    stream.end();
  }
}

function execRequest(cmd: string, stdin: boolean): ExecStreamRequest {
  return { kind: 'exec', containerId: 'c', cmd: [cmd], tty: false, stdin, stdout: true, stderr: false };
}

describe('streaming backpressure: exec and port-forward', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  /** A server session served by `serve`, and a client acting as moby/spdystream (no flow control). */
  async function spdyPair(): Promise<{ server: SpdySession; client: SpdySession; clientSocket: net.Socket }> {
    const [a, b] = await socketPair();
    const server = new SpdySession(b, { role: 'server', maxConcurrentStreams: 16 });
    const client = new SpdySession(a, { role: 'client', flowControl: false });
    cleanup.push(() => {
      client.destroy();
      server.destroy();
    });
    return { server, client, clientSocket: a };
  }

  it('SPDY exec: a process not reading stdin holds the client at under 1 MiB of 300 MiB; the exec still completes', async () => {
    const { server, client, clientSocket } = await spdyPair();
    const backend = new TestBackend();
    const served = serveSpdyRemoteCommand(server, 'v4.channel.k8s.io', execRequest('ignore-stdin', true), backend, { creationTimeoutMs: 10_000, log });
    const error = await client.createStream({ streamtype: ['error'] });
    const status = readAll(error);
    const stdin = await client.createStream({ streamtype: ['stdin'] });
    const stdout = await client.createStream({ streamtype: ['stdout'] });
    stdout.resume();
    const source = new PatternSource(300 * MiB);
    source.pipe(stdin);
    await waitFor(() => server.readPaused && clientSocket.writableNeedDrain, 'the server paused and the client blocked', 20_000);
    expect(server.receiveBufferedBytes).to.be.below(MiB);
    expect(source.produced).to.be.below(64 * MiB);
    backend.release();
    expect(JSON.parse(await status)).to.include({ status: 'Success' });
    source.unpipe(stdin);
    client.destroy();
    await served;
    // What the process left unread was dropped: the session read the client's close at once, not after the close grace period.
    expect(server.closeReason).to.match(/^transport/);
  });

  it('SPDY exec: a client not reading stdout stops a 300 MiB producer with under 1 MiB held; a slow reader then gets every byte in order', async () => {
    const { server, client } = await spdyPair();
    const backend = new TestBackend();
    const served = serveSpdyRemoteCommand(server, 'v4.channel.k8s.io', execRequest('flood-stdout', false), backend, { creationTimeoutMs: 10_000, log });
    await client.createStream({ streamtype: ['error'] });
    const stdout = await client.createStream({ streamtype: ['stdout'] });
    await waitFor(() => backend.source !== undefined && (backend.io?.stdout?.writableNeedDrain ?? false) && client.readPaused, 'the producer blocked', 20_000);
    expect(server.sendBufferedBytes).to.be.below(MiB);
    expect(backend.source?.produced).to.be.below(64 * MiB);
    let offset = 0;
    const done = new Promise<void>((resolve) => {
      stdout.on('data', (d: Buffer) => {
        offset = checkPattern(offset, d);
        if (offset >= 32 * MiB) resolve();
        // Slow: a turn of the event loop between chunks.
        stdout.pause();
        setImmediate(() => stdout.resume());
      });
    });
    await done;
    client.destroy();
    await served;
  });

  it('SPDY port-forward: a port not reading holds the client at under 1 MiB; once it ends, the session carries the next forward', async () => {
    const { server, client, clientSocket } = await spdyPair();
    const backend = new TestBackend();
    const served = serveSpdyPortForward(server, { kind: 'portforward', sandboxId: 'p', ports: [] }, backend, { creationTimeoutMs: 10_000, log, slots: serverPortForwardSlots().connection() });
    const headers = { port: ['1'], requestid: ['0'] };
    const error = await client.createStream({ streamtype: ['error'], ...headers });
    error.end();
    error.resume();
    const data = await client.createStream({ streamtype: ['data'], ...headers });
    data.resume();
    const source = new PatternSource(300 * MiB);
    source.pipe(data);
    await waitFor(() => server.readPaused && clientSocket.writableNeedDrain, 'the server paused and the client blocked', 20_000);
    expect(server.receiveBufferedBytes).to.be.below(MiB);
    expect(source.produced).to.be.below(64 * MiB);
    source.unpipe(data);
    data.end();
    backend.release();
    const next = await spdyPortForwardOnce(client, 2, 1, 'next connection');
    expect(next).to.deep.equal({ data: 'next connection', error: '' });
    client.destroy();
    await served;
  });

  it('forwardOutput: a process writing 300 MiB to a client that does not read blocks in write(2) with its pipe full; released, all of it arrives', async () => {
    const child = spawn('head', ['-c', String(300 * MiB), '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanup.push(() => child.kill('SIGKILL'));
    let stuck = true;
    let pendingCb: (() => void) | undefined;
    let received = 0;
    const client = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (stuck) pendingCb = () => cb();
        else cb();
      },
    });
    const copied = forwardOutput(child.stdout, client);
    await waitFor(() => child.stdout.isPaused() && client.writableNeedDrain, 'the copy paused');
    // What head wrote so far is what we read plus what fits in the pipe: it is blocked, not buffered in peapod.
    const written = (): number => Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/io`, 'utf8'))?.[1]);
    expect(written()).to.be.below(4 * MiB);
    expect(child.exitCode).to.equal(null);
    expect(client.writableLength + child.stdout.readableLength).to.be.below(MiB);
    stuck = false;
    pendingCb?.();
    await copied;
    expect(received).to.equal(300 * MiB);
  });

  describe('over WebSocket (v5.channel.k8s.io)', () => {
    /** Serves one exec on a WebSocket; returns both ends and the server's raw socket. */
    async function wsExec(backend: TestBackend, req: ExecStreamRequest): Promise<{ client: WebSocket; serverWs: () => WebSocket; serverSocket: () => Duplex; served: () => Promise<void> }> {
      const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_WS_MESSAGE, handleProtocols: () => 'v5.channel.k8s.io' });
      let ws: WebSocket | undefined;
      let socket: Duplex | undefined;
      let served: Promise<void> | undefined;
      const httpServer = http.createServer();
      httpServer.on('upgrade', (req0: http.IncomingMessage, s: Duplex, head: Buffer) => {
        socket = s;
        wss.handleUpgrade(req0, s, head, (w) => {
          ws = w;
          served = serveWebSocketRemoteCommand(w, 'v5.channel.k8s.io', req, backend, log);
        });
      });
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve()));
      const port = (httpServer.address() as net.AddressInfo).port;
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, ['v5.channel.k8s.io'], { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        client.once('open', () => resolve());
        client.once('error', reject);
      });
      await waitFor(() => ws !== undefined, 'the server side');
      cleanup.push(() => {
        client.terminate();
        ws?.terminate();
        httpServer.close();
      });
      return { client, serverWs: () => ws as WebSocket, serverSocket: () => socket as Duplex, served: () => served as Promise<void> };
    }

    it('a process not reading stdin pauses the socket: under 1 MiB held of 300 MiB offered; the exec still completes', async () => {
      const backend = new TestBackend();
      const { client, serverWs, serverSocket, served } = await wsExec(backend, execRequest('ignore-stdin', true));
      const statuses: string[] = [];
      client.on('message', (m: Buffer) => {
        if (m[0] === 3) statuses.push(m.subarray(1).toString());
      });
      let sent = 0;
      let stop = false;
      const pump = (): void => {
        while (!stop && sent < 300 * MiB && client.bufferedAmount < MiB) {
          const chunk = Buffer.concat([Buffer.from([0]), patternBytes(sent, 64 * 1024)]);
          sent += 64 * 1024;
          client.send(chunk, () => pump());
        }
      };
      pump();
      await waitFor(() => backend.io !== undefined && serverWs().isPaused && client.bufferedAmount >= MiB, 'the server paused and the client blocked', 20_000);
      const stdin = backend.io?.stdin as Duplex;
      expect(serverSocket().readableLength + stdin.readableLength + stdin.writableLength).to.be.below(MiB);
      expect(sent).to.be.below(64 * MiB);
      stop = true;
      backend.release();
      await waitFor(() => statuses.length === 1, 'the status', 20_000);
      expect(JSON.parse(statuses[0])).to.include({ status: 'Success' });
      await served();
    });

    it('a client not reading stops a 300 MiB producer with under 1 MiB held; a slow reader then gets every byte in order', async () => {
      const backend = new TestBackend();
      const { client, serverWs, serverSocket } = await wsExec(backend, execRequest('flood-stdout', false));
      client.pause();
      await waitFor(() => backend.source !== undefined && (backend.io?.stdout?.writableNeedDrain ?? false), 'the producer blocked', 20_000);
      expect(serverWs().bufferedAmount + serverSocket().writableLength).to.be.below(MiB);
      expect(backend.source?.produced).to.be.below(64 * MiB);
      let offset = 0;
      const done = new Promise<void>((resolve) => {
        client.on('message', (m: Buffer) => {
          if (m[0] !== 1 || m.length === 1) return;
          offset = checkPattern(offset, m.subarray(1));
          if (offset >= 32 * MiB) resolve();
          client.pause();
          setImmediate(() => client.resume());
        });
      });
      client.resume();
      await done;
    });
  });

  describe('port-forward limits', () => {
    let server: StreamingServer;
    let backend: TestBackend;
    beforeEach(async () => {
      backend = new TestBackend();
      server = new StreamingServer({ address: '127.0.0.1', port: 0, idleTimeoutMs: 60_000, creationTimeoutMs: 10_000, backends: { portForward: backend }, log, portForwardLimits: { total: 3, perConnection: 2 } });
      await server.start();
    });
    afterEach(async () => {
      backend.release();
      await server.stop();
    });

    /** Opens one forward to `port` on `session`; resolves with what the error stream says once it ends. */
    async function forward(session: SpdySession, port: number, requestId: number): Promise<{ error: Promise<string>; data: SpdyStream }> {
      const headers = { port: [String(port)], requestid: [String(requestId)] };
      const error = await session.createStream({ streamtype: ['error'], ...headers });
      error.end();
      const text = readAll(error);
      const data = await session.createStream({ streamtype: ['data'], ...headers });
      data.resume();
      return { error: text, data };
    }

    it('refuses a forward past the per-connection and the total limit with an error naming it, and frees slots when forwards end', async () => {
      const url = (): string => server.register({ kind: 'portforward', sandboxId: 'p', ports: [] });
      const a = await spdyConnect(url(), ['portforward.k8s.io']);
      const b = await spdyConnect(url(), ['portforward.k8s.io']);
      if (!a.ok || !b.ok) throw new Error('upgrade refused');
      cleanup.push(() => {
        a.session.destroy();
        b.session.destroy();
      });
      await forward(a.session, 1, 0);
      await forward(a.session, 1, 1);
      const third = await forward(a.session, 1, 2);
      expect(await third.error).to.equal('error forwarding port 1 to pod p: too many port-forward connections on this connection (limit 2)');
      await forward(b.session, 1, 0);
      const overTotal = await forward(b.session, 1, 1);
      expect(await overTotal.error).to.equal('error forwarding port 1 to pod p: too many port-forward connections in total (limit 3)');
      await waitFor(() => backend.forwards === 3, 'three forwards running');
      expect(server.portForwardSlots.inUse).to.equal(3);
      backend.release();
      await waitFor(() => server.portForwardSlots.inUse === 0, 'slots freed');
      expect(await spdyPortForwardOnce(b.session, 2, 2, 'after')).to.deep.equal({ data: 'after', error: '' });
    });

    it('refuses a WebSocket port-forward naming more ports than one connection may forward', async () => {
      const url = server.register({ kind: 'portforward', sandboxId: 'p', ports: [] }).replace('http:', 'ws:');
      const ws = new WebSocket(`${url}?port=1&port=2&port=3`, ['v4.channel.k8s.io']);
      const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).to.equal(400);
    });
  });
});
