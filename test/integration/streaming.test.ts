/**
 * The streaming server end to end: a client on peapod's SPDY framer (and
 * `ws` for WebSocket) against the real HTTP server, with a FAKE backend that
 * runs host processes in place of containers (test/support/
 * fake-host-process-backend.ts). Port forwarding is real: nsenter + socat
 * into a network namespace this test creates.
 */
import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import WebSocket from 'ws';
import { attach } from '../../src/runtime-service/cri/attach';
import { exec } from '../../src/runtime-service/cri/exec';
import { portForward } from '../../src/runtime-service/cri/port-forward';
import type { StreamingRegistrar } from '../../src/runtime-service/cri/streaming-context';
import { PeapodError } from '../../src/common/errors';
import { toGrpcStatus } from '../../src/server/status';
import { StreamingServer } from '../../src/server/streaming/server';
import { FakeHostProcessBackend } from '../support/fake-host-process-backend';
import { sleep, waitFor } from '../support/socket-pair';
import { spdyConnect, spdyPortForwardOnce, spdyRemoteCommand } from '../support/spdy-client';
import { startServer } from './harness/server';

const log = pino({ level: process.env.PEAPOD_TEST_LOG ?? 'silent' });
const ECHO_PORT = 7777;
const CLOSED_PORT = 7778;

/** Collects what a WebSocket client receives, by channel. */
function wsCollect(ws: WebSocket, base64: boolean): { channels: Map<number, Buffer[]>; closed: Promise<void> } {
  const channels = new Map<number, Buffer[]>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let channel: number;
    let payload: Buffer;
    if (base64) {
      expect(isBinary).to.equal(false);
      const text = data.toString('latin1');
      channel = text.charCodeAt(0) - 48;
      payload = Buffer.from(text.slice(1), 'base64');
    } else {
      channel = data[0];
      payload = data.subarray(1);
    }
    if (!channels.has(channel)) channels.set(channel, []);
    channels.get(channel)?.push(payload);
  });
  const closed = new Promise<void>((r) => ws.on('close', () => r()));
  return { channels, closed };
}

function text(channels: Map<number, Buffer[]>, channel: number): string {
  return Buffer.concat(channels.get(channel) ?? []).toString('utf8');
}

/** Opens a WebSocket and collects from the very first message (the server writes right after the upgrade). */
async function wsOpen(url: string, protocols: string[]): Promise<{ ws: WebSocket; channels: Map<number, Buffer[]>; closed: Promise<void> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols);
  const { channels, closed } = wsCollect(ws, protocols[0].includes('base64'));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, channels, closed };
}

describe('streaming server (SPDY and WebSocket) with a fake host-process backend', function () {
  this.timeout(60_000);
  let backend: FakeHostProcessBackend;
  let server: StreamingServer;
  let streaming: StreamingRegistrar<FakeHostProcessBackend>;
  let netnsName: string;
  let echoServer: ChildProcess | undefined;

  const execUrl = async (cmd: string[], flags: { tty?: boolean; stdin?: boolean; stdout?: boolean; stderr?: boolean } = {}): Promise<string> =>
    (
      await exec(streaming)({
        container_id: 'ctr-running',
        cmd,
        tty: flags.tty ?? false,
        stdin: flags.stdin ?? false,
        stdout: flags.stdout ?? true,
        stderr: flags.stderr ?? false,
      })
    ).url ?? '';

  before(async () => {
    backend = new FakeHostProcessBackend();
    backend.running.add('ctr-running');
    backend.stopped.add('ctr-stopped');
    server = new StreamingServer({ address: '127.0.0.1', port: 0, idleTimeoutMs: 60_000, creationTimeoutMs: 1000, backends: { remoteCommand: backend, portForward: backend }, log });
    await server.start();
    streaming = { backend, register: (r) => server.register(r) };

    // A network namespace with an echo server on 127.0.0.1:ECHO_PORT inside it.
    netnsName = `peapod-st-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', netnsName]);
    execFileSync('ip', ['netns', 'exec', netnsName, 'ip', 'link', 'set', 'lo', 'up']);
    backend.sandboxes.set('pod-1', `/run/netns/${netnsName}`);
    echoServer = spawn('ip', ['netns', 'exec', netnsName, 'socat', `TCP4-LISTEN:${ECHO_PORT},bind=127.0.0.1,reuseaddr,fork`, 'EXEC:cat'], { stdio: 'ignore' });
    await waitFor(
      () => spawnSync('nsenter', [`--net=/run/netns/${netnsName}`, 'socat', '-u', '/dev/null', `TCP4:127.0.0.1:${ECHO_PORT}`]).status === 0,
      'the echo server in the network namespace',
    );
  });

  after(async () => {
    echoServer?.kill('SIGKILL');
    await server?.stop();
    if (netnsName) spawnSync('ip', ['netns', 'del', netnsName]);
  });

  describe('CRI Exec/Attach/PortForward handlers', () => {
    const code = async (p: Promise<unknown>): Promise<number | undefined> =>
      p.then(
        () => undefined,
        (e: unknown) => (e instanceof PeapodError ? toGrpcStatus(e).code : -1),
      );

    it('return a URL on the streaming server for a running container', async () => {
      const url = await execUrl(['true']);
      expect(url).to.match(new RegExp(`^${server.url}/exec/[A-Za-z0-9_-]{22}$`));
      const a = await attach(streaming)({ container_id: 'ctr-running', stdin: true, tty: false, stdout: true, stderr: false });
      expect(a.url).to.contain('/attach/');
      const pf = await portForward(streaming)({ pod_sandbox_id: 'pod-1', port: [80] });
      expect(pf.url).to.contain('/portforward/');
    });

    it('refuse unknown or stopped containers and bad requests with the right status', async () => {
      const base = { cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false };
      expect(await code(exec(streaming)({ ...base, container_id: 'nope' }))).to.equal(grpc.status.NOT_FOUND);
      expect(await code(exec(streaming)({ ...base, container_id: 'ctr-stopped' }))).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(await code(exec(streaming)({ ...base, container_id: '' }))).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(await code(exec(streaming)({ ...base, container_id: 'ctr-running', cmd: [] }))).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(await code(exec(streaming)({ ...base, container_id: 'ctr-running', tty: true, stderr: true }))).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(await code(exec(streaming)({ ...base, container_id: 'ctr-running', stdout: false }))).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(await code(attach(streaming)({ container_id: 'nope', stdin: false, tty: false, stdout: true, stderr: false }))).to.equal(grpc.status.NOT_FOUND);
      expect(await code(portForward(streaming)({ pod_sandbox_id: 'nope', port: [] }))).to.equal(grpc.status.NOT_FOUND);
      expect(await code(portForward(streaming)({ pod_sandbox_id: 'pod-1', port: [70000] }))).to.equal(grpc.status.INVALID_ARGUMENT);
    });
  });

  describe('SPDY/3.1', () => {
    it('execs with stdin, stdout and stderr and reports exit code 0 as Success (v4)', async () => {
      const url = await execUrl(['sh', '-c', 'cat; echo to-stderr >&2'], { stdin: true, stderr: true });
      const r = await spdyRemoteCommand(url, { stdin: 'hello from stdin', stderr: true });
      expect(r.protocol).to.equal('v4.channel.k8s.io');
      expect(r.stdout).to.equal('hello from stdin');
      expect(r.stderr).to.equal('to-stderr\n');
      expect(JSON.parse(r.error)).to.deep.equal({ metadata: {}, status: 'Success' });
    });

    it('reports exit code 3 as Failure/NonZeroExitCode with an ExitCode cause (v4)', async () => {
      const url = await execUrl(['sh', '-c', 'echo out; exit 3']);
      const r = await spdyRemoteCommand(url, {});
      expect(r.stdout).to.equal('out\n');
      const status = JSON.parse(r.error);
      expect(status).to.include({ status: 'Failure', reason: 'NonZeroExitCode' });
      expect(status.details.causes).to.deep.equal([{ reason: 'ExitCode', message: '3' }]);
    });

    it('reports failures as text only, success as nothing, on v2.channel.k8s.io and channel.k8s.io', async () => {
      let r = await spdyRemoteCommand(await execUrl(['sh', '-c', 'exit 3']), { protocols: ['v2.channel.k8s.io'] });
      expect(r.protocol).to.equal('v2.channel.k8s.io');
      expect(r.error).to.equal('command terminated with non-zero exit code: exit status 3');
      r = await spdyRemoteCommand(await execUrl(['echo', 'v1']), { protocols: ['channel.k8s.io'] });
      expect(r.protocol).to.equal('channel.k8s.io');
      expect(r.stdout).to.equal('v1\n');
      expect(r.error).to.equal('');
    });

    it('reports a command that cannot run as an internal error', async () => {
      const r = await spdyRemoteCommand(await execUrl(['/nonexistent/peapod-test-binary']), {});
      const status = JSON.parse(r.error);
      expect(status).to.include({ status: 'Failure', reason: 'InternalError' });
      expect(status.message).to.contain('ENOENT');
    });

    it('runs a tty exec with the resize stream (v3+) and merges stderr into stdout', async () => {
      const url = await execUrl(['sh', '-c', 'cat; echo err >&2'], { tty: true, stdin: true });
      const before = backend.resizes.length;
      const r = await spdyRemoteCommand(url, { tty: true, stdin: 'typed', resizes: [{ width: 80, height: 24 }, { width: 120, height: 40 }] });
      expect(r.stdout).to.equal('typederr\n');
      expect(backend.resizes.length).to.equal(before + 1);
      const sizes = backend.resizes[before];
      expect(sizes[0]).to.deep.equal({ width: 80, height: 24 });
      for (const s of sizes.slice(1)) expect(s).to.deep.equal({ width: 120, height: 40 });
    });

    it('attaches (fake: a cat process) with stdin and stdout', async () => {
      const url = (await attach(streaming)({ container_id: 'ctr-running', stdin: true, tty: false, stdout: true, stderr: false })).url ?? '';
      const r = await spdyRemoteCommand(url, { stdin: 'attached!' });
      expect(r.stdout).to.equal('attached!');
      expect(JSON.parse(r.error).status).to.equal('Success');
    });

    it('refuses a reused token, an unknown token and a token of another route with 404', async () => {
      const url = await execUrl(['true']);
      await spdyRemoteCommand(url, {});
      const again = await spdyConnect(url, ['v4.channel.k8s.io']);
      expect(again.ok).to.equal(false);
      expect(again.ok ? 0 : again.status).to.equal(404);
      const unknown = await spdyConnect(`${server.url}/exec/AAAAAAAAAAAAAAAAAAAAAA`, ['v4.channel.k8s.io']);
      expect(unknown.ok ? 0 : unknown.status).to.equal(404);
      const other = await spdyConnect((await execUrl(['true'])).replace('/exec/', '/attach/'), ['v4.channel.k8s.io']);
      expect(other.ok ? 0 : other.status).to.equal(404);
    });

    it('refuses an unsupported subprotocol with 403 naming the accepted ones', async () => {
      const r = await spdyConnect(await execUrl(['true']), ['v9.channel.k8s.io']);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.status).to.equal(403);
      expect(String(r.headers['x-accepted-stream-protocol-versions'])).to.contain('v4.channel.k8s.io');
    });

    it('drops the connection when the client does not open its streams in time', async () => {
      const conn = await spdyConnect(await execUrl(['true'], { stdin: true }), ['v4.channel.k8s.io']);
      if (!conn.ok) throw new Error('upgrade failed');
      await conn.session.createStream({ streamtype: ['error'] });
      const started = Date.now();
      await new Promise((r) => conn.session.once('close', r));
      expect(Date.now() - started).to.be.within(500, 5000);
    });

    it('forwards ports into a network namespace (real nsenter + socat), several connections on one session', async () => {
      const url = (await portForward(streaming)({ pod_sandbox_id: 'pod-1', port: [ECHO_PORT] })).url ?? '';
      const conn = await spdyConnect(url, ['portforward.k8s.io']);
      if (!conn.ok) throw new Error(`upgrade failed: ${conn.status}`);
      expect(conn.protocol).to.equal('portforward.k8s.io');
      const [a, b] = await Promise.all([
        spdyPortForwardOnce(conn.session, ECHO_PORT, 0, 'first connection\n'),
        spdyPortForwardOnce(conn.session, ECHO_PORT, 1, 'second connection\n'),
      ]);
      expect(a).to.deep.equal({ data: 'first connection\n', error: '' });
      expect(b).to.deep.equal({ data: 'second connection\n', error: '' });
      const big = 'x'.repeat(300 * 1024);
      const c = await spdyPortForwardOnce(conn.session, ECHO_PORT, 2, big);
      expect(c.data.length).to.equal(big.length);
      const refused = await spdyPortForwardOnce(conn.session, CLOSED_PORT, 3, 'nobody home');
      expect(refused.data).to.equal('');
      expect(refused.error).to.contain(`error forwarding port ${CLOSED_PORT} to pod pod-1`).and.contain('Connection refused');
      conn.session.destroy();
    });
  });

  describe('WebSocket', () => {
    it('execs over v5.channel.k8s.io, stdin half-closed by the close signal [255, 0]', async () => {
      const { ws, channels, closed } = await wsOpen(await execUrl(['sh', '-c', 'cat; echo e >&2; exit 3'], { stdin: true, stderr: true }), ['v5.channel.k8s.io']);
      expect(ws.protocol).to.equal('v5.channel.k8s.io');
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('over websocket')]));
      ws.send(Buffer.from([255, 0]));
      await closed;
      expect(text(channels, 1)).to.equal('over websocket');
      expect(text(channels, 2)).to.equal('e\n');
      const status = JSON.parse(text(channels, 3));
      expect(status.details.causes).to.deep.equal([{ reason: 'ExitCode', message: '3' }]);
      // the first message was the empty "ready" message on stdout
      expect(channels.get(1)?.[0].length).to.equal(0);
    });

    it('execs over v4.base64.channel.k8s.io (text frames, base64 data)', async () => {
      const { ws, channels, closed } = await wsOpen(await execUrl(['echo', 'base64 works']), ['v4.base64.channel.k8s.io']);
      expect(ws.protocol).to.equal('v4.base64.channel.k8s.io');
      await closed;
      expect(text(channels, 1)).to.equal('base64 works\n');
      expect(JSON.parse(text(channels, 3))).to.deep.equal({ metadata: {}, status: 'Success' });
    });

    it('execs over channel.k8s.io and base64.channel.k8s.io with text errors', async () => {
      let c = await wsOpen(await execUrl(['sh', '-c', 'exit 3']), ['channel.k8s.io']);
      await c.closed;
      expect(text(c.channels, 3)).to.equal('command terminated with non-zero exit code: exit status 3');
      c = await wsOpen(await execUrl(['echo', 'ok']), ['base64.channel.k8s.io']);
      await c.closed;
      expect(text(c.channels, 1)).to.equal('ok\n');
      expect(text(c.channels, 3)).to.equal('');
    });

    it('sends resize events on channel 4 for a tty exec', async () => {
      const before = backend.resizes.length;
      const { ws, channels, closed } = await wsOpen(await execUrl(['sh', '-c', 'cat'], { tty: true, stdin: true }), ['v5.channel.k8s.io']);
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":132,"Height":43}')]));
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('tty in')]));
      await waitFor(() => text(channels, 1).includes('tty in'), 'echo');
      ws.send(Buffer.from([255, 0]));
      await closed;
      expect(backend.resizes[before][0]).to.deep.equal({ width: 132, height: 43 });
    });

    it('refuses a reused token with 404', async () => {
      const url = await execUrl(['true']);
      await (await wsOpen(url, ['v4.channel.k8s.io'])).closed;
      const err = await wsOpen(url, ['v4.channel.k8s.io']).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.contain('404');
    });

    it('forwards a port: port bytes first on the data and error channels, then the echo', async () => {
      const url = (await portForward(streaming)({ pod_sandbox_id: 'pod-1', port: [] })).url ?? '';
      const { ws, channels, closed } = await wsOpen(`${url}?port=${ECHO_PORT}`, ['v4.channel.k8s.io']);
      await waitFor(() => (channels.get(0)?.length ?? 0) >= 1 && (channels.get(1)?.length ?? 0) >= 1, 'port frames');
      const portLE = Buffer.alloc(2);
      portLE.writeUInt16LE(ECHO_PORT);
      expect(channels.get(0)?.[0]).to.deep.equal(portLE);
      expect(channels.get(1)?.[0]).to.deep.equal(portLE);
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ws port-forward\n')]));
      await waitFor(() => Buffer.concat(channels.get(0)?.slice(1) ?? []).toString() === 'ws port-forward\n', 'echo');
      ws.close();
      await closed;
      await sleep(50);
    });

    it('reports a refused port-forward on the error channel', async () => {
      const url = (await portForward(streaming)({ pod_sandbox_id: 'pod-1', port: [CLOSED_PORT] })).url ?? '';
      const { ws, channels, closed } = await wsOpen(url, ['v4.channel.k8s.io']);
      await closed;
      const errors = Buffer.concat(channels.get(1)?.slice(1) ?? []).toString();
      expect(errors).to.contain('Connection refused');
    });
  });
});

describe('peapod-cri with the container engine as streaming backend', () => {
  it('serves Exec, Attach and PortForward: an unknown container or sandbox is NOT_FOUND', async () => {
    const srv = await startServer();
    try {
      for (const call of [
        () => srv.client.runtime.Exec({ container_id: 'x', cmd: ['true'], stdout: true }),
        () => srv.client.runtime.Attach({ container_id: 'x', stdout: true }),
        () => srv.client.runtime.PortForward({ pod_sandbox_id: 'x', port: [80] }),
      ]) {
        const err = await call().then(
          () => null,
          (e: grpc.ServiceError) => e,
        );
        expect(err?.code).to.equal(grpc.status.NOT_FOUND);
      }
    } finally {
      await srv.cleanup();
    }
  });
});
