/**
 * The streaming HTTP server: the URLs that Exec, Attach and PortForward
 * return lead here (routes /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN).
 * A client upgrades the request either to SPDY/3.1 (the kubelet and crictl)
 * or to WebSocket; tokens are single use and expire after a minute; an
 * unknown, used or expired token gets 404.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../../common/logger';
import type { StreamingBackends } from './backend';
import { SPDY_PORT_FORWARD_PROTOCOL, SPDY_REMOTE_COMMAND_PROTOCOLS } from './remote-command';
import { RequestCache } from './request-cache';
import type { StreamRequest } from './requests';
import { SpdySession } from './spdy/session';
import { MAX_PORT_FORWARDS, MAX_PORT_FORWARDS_PER_CONNECTION, PortForwardSlots, serverPortForwardSlots } from './port-forward-limit';
import { parsePort, serveSpdyPortForward } from './spdy-port-forward';
import { REMOTE_COMMAND_MAX_STREAMS, serveSpdyRemoteCommand } from './spdy-remote-command';
import { MAX_WS_MESSAGE, negotiateWebSocketProtocol, serveWebSocketPortForward, serveWebSocketRemoteCommand, WS_PORT_FORWARD_PROTOCOLS, WS_REMOTE_COMMAND_PROTOCOLS } from './websocket';

/** How the streaming server (exec, attach, port-forward URLs of the CRI) listens, times out and bounds its sessions. */
export interface StreamingServerOptions {
  /** Address to listen on (IPv4 or IPv6 literal). */
  address: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Close a session after this long without traffic (ms); 0 = never. */
  idleTimeoutMs: number;
  /** How long a client may take to open its streams (ms). */
  creationTimeoutMs: number;
  /** What serves the requests; a request whose backend is absent is refused with 404. */
  backends: StreamingBackends;
  log: Logger;
  /** Concurrent port-forward connections (port-forward-limit.ts has the defaults and why). */
  portForwardLimits?: { total: number; perConnection: number };
}

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

/** Splits an X-Stream-Protocol-Version header list (one per header line, or comma-separated). */
export function offeredProtocols(value: string | string[] | undefined): string[] {
  const lines = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return lines.flatMap((l) => l.split(',')).map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The streaming server; one per peapod-cri. */
export class StreamingServer {
  private readonly http: http.Server;
  /** The subprotocol negotiated for each WebSocket upgrade, handed to ws's handshake. */
  private readonly wsProtocols = new WeakMap<http.IncomingMessage, string>();
  /** ws's server, made (and ws loaded, about 1 MiB of heap) on the first WebSocket upgrade. */
  private wssMade: WebSocketServer | undefined;
  private get wss(): WebSocketServer {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.wssMade ??= new (require('ws') as typeof import('ws')).WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_WS_MESSAGE,
      handleProtocols: (_offered, req) => this.wsProtocols.get(req) || false,
    });
    return this.wssMade;
  }
  private readonly cache = new RequestCache<StreamRequest>();
  /** Port-forward connections in flight across all clients (port-forward-limit.ts). */
  readonly portForwardSlots: PortForwardSlots;
  private readonly forwardsPerConnection: number;
  private readonly sockets = new Set<Duplex>();
  private baseUrl = '';

  constructor(private readonly opts: StreamingServerOptions) {
    this.portForwardSlots = serverPortForwardSlots(opts.portForwardLimits?.total ?? MAX_PORT_FORWARDS);
    this.forwardsPerConnection = opts.portForwardLimits?.perConnection ?? MAX_PORT_FORWARDS_PER_CONNECTION;
    this.http = http.createServer((req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts listening; resolves once bound. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.address, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    let host = addr.address;
    if (host === '0.0.0.0') host = '127.0.0.1';
    if (host === '::') host = '::1';
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    this.opts.log.info({ url: this.baseUrl }, 'streaming server listening');
  }

  /** The server's base URL, e.g. `http://127.0.0.1:41234` (after start()). */
  get url(): string {
    return this.baseUrl;
  }

  /**
   * Registers a validated request and returns the URL the client must
   * connect to within the token lifetime.
   * @throws CriError RESOURCE_EXHAUSTED when too many tokens are outstanding.
   */
  register(req: StreamRequest): string {
    if (!this.baseUrl) throw new Error('streaming server is not started');
    const token = this.cache.insert(req);
    return `${this.baseUrl}/${req.kind}/${token}`;
  }

  /** Stops listening and drops every open streaming connection. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const m = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Upgrade request required (SPDY/3.1 or websocket)\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    const m = ROUTE.exec(url.pathname);
    const request = m ? this.cache.consume(m[2]) : undefined;
    const backend = request?.kind === 'portforward' ? this.opts.backends.portForward : this.opts.backends.remoteCommand;
    if (!m || !request || request.kind !== m[1] || !backend) {
      writeHttpError(socket, 404, 'Not Found', '404 page not found\n');
      return;
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, request, url);
    else if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, request);
    else writeHttpError(socket, 400, 'Bad Request', `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')}\n`);
  }

  private upgradeSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest): void {
    const log = this.opts.log;
    const supported: readonly string[] = request.kind === 'portforward' ? [SPDY_PORT_FORWARD_PROTOCOL] : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const offered = offeredProtocols(req.headers['x-stream-protocol-version']);
    if (offered.length === 0) {
      writeHttpError(socket, 400, 'Bad Request', 'unable to upgrade: header X-Stream-Protocol-Version is missing\n');
      return;
    }
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) {
      const accepted = supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}\r\n`).join('');
      writeHttpError(socket, 403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports ${offered.join(', ')}, server accepts ${supported.join(', ')}\n`, accepted);
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    (socket as Socket).setNoDelay?.(true);
    // A port-forward client holds two streams per forwarded connection, and may open one more pair than it may run.
    const maxConcurrentStreams = request.kind === 'portforward' ? 2 * this.forwardsPerConnection + 2 : REMOTE_COMMAND_MAX_STREAMS;
    const session = new SpdySession(socket, { role: 'server', idleTimeoutMs: this.opts.idleTimeoutMs, maxConcurrentStreams }, head);
    const { portForward, remoteCommand } = this.opts.backends;
    const served =
      request.kind === 'portforward'
        ? portForward
          ? serveSpdyPortForward(session, request, portForward, { creationTimeoutMs: this.opts.creationTimeoutMs, log, slots: this.portForwardSlots.connection(this.forwardsPerConnection) })
          : Promise.reject(new Error('no port-forward backend'))
        : remoteCommand
          ? serveSpdyRemoteCommand(session, protocol, request, remoteCommand, { creationTimeoutMs: this.opts.creationTimeoutMs, log })
          : Promise.reject(new Error('no exec/attach backend'));
    served.catch((err: unknown) => log.error({ err }, 'SPDY streaming session failed'));
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, request: StreamRequest, url: URL): void {
    const log = this.opts.log;
    const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
    const supported: readonly string[] = request.kind === 'portforward' ? WS_PORT_FORWARD_PROTOCOLS : WS_REMOTE_COMMAND_PROTOCOLS;
    const protocol = negotiateWebSocketProtocol(offered, supported);
    if (protocol === undefined) {
      writeHttpError(socket, 400, 'Bad Request', `requested protocol(s) are not supported: ${offered.join(', ')}; supports ${supported.join(', ')}\n`);
      return;
    }
    let ports: number[] = [];
    if (request.kind === 'portforward') {
      const raw = url.searchParams.getAll('port');
      ports = raw.length > 0 ? raw.map((p) => parsePort(p) ?? -1) : request.ports;
      const bad = raw.find((p) => parsePort(p) === undefined);
      if (bad !== undefined || ports.length === 0) {
        writeHttpError(socket, 400, 'Bad Request', bad !== undefined ? `invalid port ${JSON.stringify(bad)}\n` : 'query parameter "port" is required\n');
        return;
      }
      if (ports.length > this.forwardsPerConnection) {
        writeHttpError(socket, 400, 'Bad Request', `too many ports: ${ports.length} (limit ${this.forwardsPerConnection} per connection)\n`);
        return;
      }
    }
    this.wsProtocols.set(req, protocol);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.opts.idleTimeoutMs > 0) {
        const s = socket as Socket;
        s.setTimeout?.(this.opts.idleTimeoutMs, () => ws.terminate());
      }
      const { portForward, remoteCommand } = this.opts.backends;
      const served =
        request.kind === 'portforward'
          ? portForward
            ? serveWebSocketPortForward(ws, protocol, request, ports, portForward, log, this.portForwardSlots.connection(this.forwardsPerConnection))
            : Promise.reject(new Error('no port-forward backend'))
          : remoteCommand
            ? serveWebSocketRemoteCommand(ws, protocol, request, remoteCommand, log)
            : Promise.reject(new Error('no exec/attach backend'));
      served.catch((err: unknown) => {
        log.error({ err }, 'WebSocket streaming session failed');
        ws.terminate();
      });
    });
  }
}

function writeHttpError(socket: Duplex, code: number, reason: string, body: string, extraHeaders = ''): void {
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extraHeaders}\r\n${body}`);
}
