/**
 * A test client speaking what client-go's remotecommand and portforward
 * speak over SPDY, built on peapod's own SPDY session in the client role.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TerminalSize } from '../../src/server/streaming/backend';
import { SpdySession, SpdySessionOptions, SpdyStream } from '../../src/server/streaming/spdy/session';

/** An upgraded connection, or the HTTP answer when the upgrade was refused. */
export type SpdyConnectResult =
  | { ok: true; session: SpdySession; protocol: string; socket: Socket }
  | { ok: false; status: number; body: string; headers: http.IncomingHttpHeaders };

/**
 * Sends the SPDY/3.1 upgrade request for `url` offering `protocols` (one header line each).
 * @param session options of the client session, e.g. `{ flowControl: false }` to act as moby/spdystream does
 */
export function spdyConnect(url: string, protocols: string[], method = 'POST', session: Omit<SpdySessionOptions, 'role'> = {}): Promise<SpdyConnectResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    });
    req.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const protocol = String(res.headers['x-stream-protocol-version'] ?? '');
      socket.setNoDelay(true);
      resolve({ ok: true, session: new SpdySession(socket, { role: 'client', ...session }, head), protocol, socket });
    });
    req.on('response', (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a stream to its end. */
export function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export interface RemoteCommandOptions {
  protocols?: string[];
  stdin?: string;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  resizes?: TerminalSize[];
}

export interface RemoteCommandResult {
  protocol: string;
  stdout: string;
  stderr: string;
  /** Everything the server wrote on the error stream. */
  error: string;
}

/**
 * Runs a remote command like client-go does: opens error, stdin, stdout,
 * stderr (not with a tty) and, from v3 with a tty, resize streams, in that
 * order; writes the resizes then stdin and closes stdin; reads stdout,
 * stderr and the error stream to their ends.
 */
export async function spdyRemoteCommand(url: string, opts: RemoteCommandOptions): Promise<RemoteCommandResult> {
  const conn = await spdyConnect(url, opts.protocols ?? ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
  if (!conn.ok) throw new Error(`upgrade refused: ${conn.status} ${conn.body}`);
  const { session, protocol } = conn;
  const open = (type: string): Promise<SpdyStream> => session.createStream({ streamtype: [type] });
  const error = await open('error');
  const errorText = readAll(error);
  const stdin = opts.stdin !== undefined ? await open('stdin') : undefined;
  const stdout = opts.stdout !== false ? await open('stdout') : undefined;
  const stderr = opts.stderr && !opts.tty ? await open('stderr') : undefined;
  const resize = opts.tty && protocol !== 'v2.channel.k8s.io' && protocol !== 'channel.k8s.io' ? await open('resize') : undefined;
  const outText = stdout ? readAll(stdout) : Promise.resolve('');
  const errText = stderr ? readAll(stderr) : Promise.resolve('');
  for (const size of opts.resizes ?? []) resize?.write(`${JSON.stringify({ Width: size.width, Height: size.height })}\n`);
  if (stdin) {
    stdin.resume();
    stdin.end(opts.stdin);
  }
  const result = { protocol, stdout: await outText, stderr: await errText, error: await errorText };
  resize?.end();
  session.destroy();
  return result;
}

/**
 * Forwards one connection like client-go's portforward: opens the error
 * stream (headers streamType, port, requestID) and closes its writing half,
 * opens the data stream, sends `payload`, half-closes, and reads the reply
 * and the error stream.
 */
export async function spdyPortForwardOnce(session: SpdySession, port: number, requestId: number, payload: string): Promise<{ data: string; error: string }> {
  const headers = { port: [String(port)], requestid: [String(requestId)] };
  const error = await session.createStream({ streamtype: ['error'], ...headers });
  error.end();
  const errorText = readAll(error);
  const data = await session.createStream({ streamtype: ['data'], ...headers });
  const dataText = readAll(data);
  data.end(payload);
  return { data: await dataText, error: await errorText };
}
