/**
 * Exec, attach and port-forward over WebSocket, as the kubelet's CRI
 * streaming server serves them (kubernetes pkg/kubelet/cri/streaming/
 * remotecommand/websocket.go and portforward/websocket.go, framing from
 * k8s.io apimachinery httpstream/wsstream):
 *
 *  - every message is one channel's data: binary protocols put the channel
 *    number in the first byte; base64 protocols send text messages whose
 *    first character is '0'+channel and the rest the data in base64;
 *  - remote command channels: 0 stdin, 1 stdout, 2 stderr, 3 error,
 *    4 resize; an empty message on the lowest channel the server writes
 *    tells the client the streams are ready;
 *  - v5.channel.k8s.io adds the close signal: the binary message
 *    [255, channel] half-closes that channel (stdin EOF);
 *  - port forward: for the i-th port, channel 2i carries data both ways and
 *    2i+1 errors; the server's first message on each is the port as 2 bytes
 *    little-endian.
 *
 * Backpressure: WebSocket has no flow control of its own, so, as for a SPDY
 * peer without windows, a channel whose consumer is behind (stdin of a
 * process not reading, a port nobody reads) pauses the socket (`ws.pause()`)
 * until the consumer drains; messages are bounded by the server's
 * `maxPayload` (MAX_WS_MESSAGE). Sending waits for each message to be
 * written to the socket before the channel takes the next write, so a slow
 * client makes write() return false to the producer; `bufferedAmount` stays
 * within one message per channel.
 */
import { Duplex, PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../common/logger';
import type { PortForwardBackend, RemoteCommandBackend } from './backend';
import type { PortForwardSlots } from './port-forward-limit';
import { reportsJsonStatus, runRemoteCommand } from './remote-command';
import type { AttachStreamRequest, ExecStreamRequest, PortForwardStreamRequest } from './requests';
import { resizeEvents } from './resize';
import { encodeStatus } from './status';

/** Remote-command WebSocket subprotocols, newest first. */
export const WS_REMOTE_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;
/** Port-forward WebSocket subprotocols. */
export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io', 'portforward.k8s.io'] as const;

/** The v5 close signal's channel byte. */
export const CLOSE_SIGNAL = 255;

/**
 * Largest WebSocket message accepted (bytes): ws buffers a message whole.
 * Clients send one message per write (client-go: 32 KiB from io.Copy);
 * ws's own default is 100 MiB and x/net/websocket's, under the kubelet's
 * WebSocket server, 32 MiB.
 */
export const MAX_WS_MESSAGE = 4 * 1024 * 1024;

/** Bytes a channel buffers for its consumer before the socket is paused (bytes). */
export const WS_CHANNEL_BUFFER = 128 * 1024;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

/**
 * Picks the subprotocol: the first the client offers that we support; the
 * empty protocol (binary framing) when the client offers none.
 * @returns the protocol, '' for none, or undefined when the client offered
 *   only unsupported ones.
 */
export function negotiateWebSocketProtocol(offered: readonly string[], supported: readonly string[]): string | undefined {
  if (offered.length === 0) return '';
  return offered.find((p) => supported.includes(p));
}

/** Sends channel messages in the negotiated framing. */
class ChannelWriter {
  readonly base64: boolean;

  constructor(
    private readonly ws: WebSocket,
    protocol: string,
  ) {
    this.base64 = protocol.includes('base64');
  }

  /** Sends `data` on `channel`; resolves when handed to the socket. */
  send(channel: number, data: Buffer): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => resolve();
      if (this.base64) this.ws.send(String.fromCharCode(48 + channel) + data.toString('base64'), done);
      else this.ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true }, done);
    });
  }

  /** A writable stream whose writes go to `channel`. */
  channel(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.send(channel, chunk).then(() => cb(), cb);
      },
    });
  }

  /** Decodes one incoming message into channel and data; undefined if empty or malformed. */
  decode(message: Buffer, isBinary: boolean): { channel: number; data: Buffer; close: boolean } | undefined {
    if (message.length === 0) return undefined;
    if (isBinary && message[0] === CLOSE_SIGNAL) return message.length === 2 ? { channel: message[1], data: Buffer.alloc(0), close: true } : undefined;
    if (this.base64 || !isBinary) {
      const channel = message[0] - 48;
      if (channel < 0 || channel > 200) return undefined;
      return { channel, data: Buffer.from(message.subarray(1).toString('latin1'), 'base64'), close: false };
    }
    return { channel: message[0], data: message.subarray(1), close: false };
  }
}

/**
 * Pauses the socket while any channel's consumer is behind: `full(key)` when
 * a write or push to a channel said stop, `drained(key)` when it drained.
 */
class InputGate {
  private readonly behind = new Set<unknown>();

  constructor(private readonly ws: WebSocket) {}

  full(key: unknown): void {
    this.behind.add(key);
    this.ws.pause();
  }

  drained(key: unknown): void {
    if (this.behind.delete(key) && this.behind.size === 0) this.ws.resume();
  }

  /** Writes to a consumer's writable side, pausing the socket until it drains when it asks. */
  write(key: unknown, to: Writable, data: Buffer): void {
    if (to.write(data)) return;
    if (this.behind.has(key)) return;
    this.full(key);
    to.once('drain', () => this.drained(key));
  }
}

/** Serves one exec or attach on an accepted WebSocket; resolves when it is over. */
export async function serveWebSocketRemoteCommand(
  ws: WebSocket,
  protocol: string,
  req: ExecStreamRequest | AttachStreamRequest,
  backend: RemoteCommandBackend,
  log: Logger,
): Promise<void> {
  const writer = new ChannelWriter(ws, protocol);
  const gate = new InputGate(ws);
  const stdin = req.stdin ? new PassThrough({ highWaterMark: WS_CHANNEL_BUFFER }) : undefined;
  // Every WebSocket protocol version has the resize channel.
  const resize = req.tty ? new PassThrough() : undefined;
  const abort = new AbortController();
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('close', () => {
    abort.abort();
    stdin?.end();
    resize?.end();
  });
  ws.on('message', (message: Buffer, isBinary: boolean) => {
    const m = writer.decode(message, isBinary);
    if (!m) return;
    if (m.close) {
      if (!protocol.startsWith('v5.')) return;
      if (m.channel === STDIN) stdin?.end();
      if (m.channel === RESIZE) resize?.end();
      return;
    }
    if (m.channel === STDIN && stdin && !stdin.writableEnded) gate.write(STDIN, stdin, m.data);
    else if (m.channel === RESIZE && resize && !resize.writableEnded) gate.write(RESIZE, resize, m.data);
  });
  // Tell the client the streams are ready: an empty message on the lowest channel we write.
  await writer.send(req.stdout ? STDOUT : req.stderr ? STDERR : ERROR, Buffer.alloc(0));

  const stdout = req.stdout ? writer.channel(STDOUT) : undefined;
  const stderr = req.stderr && !req.tty ? writer.channel(STDERR) : undefined;
  const status = await runRemoteCommand(backend, req, {
    stdin,
    stdout,
    stderr,
    tty: req.tty,
    resize: resize ? resizeEvents(resize) : undefined,
    signal: abort.signal,
  });
  // Whatever the process did not read is dropped, so the socket flows again for the close.
  stdin?.resume();
  await Promise.all([stdout, stderr].map((w) => (w ? new Promise<void>((r) => w.end(r)) : undefined)));
  const bytes = encodeStatus(status, reportsJsonStatus(protocol) ? 'json' : 'text');
  if (bytes) await writer.send(ERROR, bytes);
  log.debug({ status: status.status, reason: status.reason }, 'remote command done');
  ws.close(1000);
  await closed;
}

/** A duplex for one forwarded port: reads what arrives on the data channel, writes to it. */
class ChannelDuplex extends Duplex {
  constructor(
    private readonly writer: ChannelWriter,
    private readonly channelNo: number,
    private readonly gate: InputGate,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: WS_CHANNEL_BUFFER });
  }

  /** Data from the client for the port; pauses the socket while the port's side is behind. */
  deliver(data: Buffer): void {
    if (!this.push(data)) this.gate.full(this);
  }

  override _read(): void {
    this.gate.drained(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writer.send(this.channelNo, chunk).then(() => cb(), cb);
  }
}

/**
 * Serves port forwarding on an accepted WebSocket: one connection per port
 * of `ports` (the `port` query parameters, or else the CRI request's ports).
 */
export async function serveWebSocketPortForward(
  ws: WebSocket,
  protocol: string,
  req: PortForwardStreamRequest,
  ports: number[],
  backend: PortForwardBackend,
  log: Logger,
  slots: PortForwardSlots,
): Promise<void> {
  const writer = new ChannelWriter(ws, protocol);
  const gate = new InputGate(ws);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const streams = ports.map((_, i) => new ChannelDuplex(writer, 2 * i, gate));
  ws.on('close', () => {
    for (const s of streams) s.push(null);
  });
  ws.on('message', (message: Buffer, isBinary: boolean) => {
    const m = writer.decode(message, isBinary);
    if (!m || m.channel % 2 !== 0) return;
    const s = streams[m.channel / 2];
    if (!s) return;
    if (m.close) s.push(null);
    else s.deliver(m.data);
  });
  await Promise.all(
    ports.map(async (port, i) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      await writer.send(2 * i, portBytes);
      await writer.send(2 * i + 1, portBytes);
    }),
  );
  await Promise.all(
    ports.map(async (port, i) => {
      let release: (() => void) | undefined;
      try {
        release = slots.acquire();
        await backend.portForward(req.sandboxId, port, streams[i]);
      } catch (err) {
        const msg = `error forwarding port ${port} to pod ${req.sandboxId}: ${err instanceof Error ? err.message : String(err)}`;
        log.warn({ port }, msg);
        await writer.send(2 * i + 1, Buffer.from(msg));
      } finally {
        release?.();
        // What the client still sends for this port is dropped: the other ports keep flowing.
        streams[i].resume();
      }
    }),
  );
  ws.close(1000);
  await closed;
}
