/**
 * PortForward on a real peapod-cri: a real pod sandbox (namespaces, CNI), a
 * listener started inside its network namespace, the PortForward RPC's URL,
 * then port forwarding over SPDY with peapod's test client, over WebSocket,
 * and with crictl (when /usr/local/bin/crictl exists).
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { listenInNetns } from './harness/netns-tools';
import { startServer, TestServer } from './harness/server';
import { waitFor } from '../support/socket-pair';
import { spdyConnect, spdyPortForwardOnce } from '../support/spdy-client';

const LISTEN_PORT = 8080;
const CRICTL = '/usr/local/bin/crictl';

describe('PortForward into a real pod sandbox', function () {
  this.timeout(120_000);
  let network: TestCniNetwork;
  let server: TestServer;
  let podId: string;
  let listener: ChildProcess | undefined;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-test-logs-'));

  before(async () => {
    network = makeTestCniNetwork();
    server = await startServer({ config: network.configToml });
    podId = (
      await server.client.runtime.RunPodSandbox({
        config: {
          metadata: { name: 'pf', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
          hostname: 'pf',
          log_directory: path.join(logDir, 'pf'),
          linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
        },
      })
    ).pod_sandbox_id;
    const status = await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: podId, verbose: true });
    const netnsPath = (JSON.parse(status.info?.info ?? '{}') as { netnsPath: string }).netnsPath;
    listener = await listenInNetns(netnsPath, LISTEN_PORT, 'from-the-pod');
  });

  after(async () => {
    listener?.kill('SIGKILL');
    if (server) {
      try {
        if (podId) {
          await server.client.runtime.StopPodSandbox({ pod_sandbox_id: podId });
          await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: podId });
        }
      } catch {
        /* the server may be gone */
      }
      await server.cleanup();
    }
    network?.cleanup();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('returns a URL whose SPDY port-forward reaches the port inside the pod', async () => {
    const { url } = await server.client.runtime.PortForward({ pod_sandbox_id: podId, port: [LISTEN_PORT] });
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/portforward\//);
    const conn = await spdyConnect(url ?? '', ['portforward.k8s.io']);
    if (!conn.ok) throw new Error(`upgrade refused: ${conn.status}`);
    try {
      expect(await spdyPortForwardOnce(conn.session, LISTEN_PORT, 0, '')).to.deep.equal({ data: 'hello from-the-pod', error: '' });
      const refused = await spdyPortForwardOnce(conn.session, LISTEN_PORT + 1, 1, '');
      expect(refused.error).to.contain('Connection refused');
    } finally {
      conn.session.destroy();
    }
  });

  it('reaches the port over WebSocket too', async () => {
    const { url } = await server.client.runtime.PortForward({ pod_sandbox_id: podId, port: [LISTEN_PORT] });
    const ws = new WebSocket((url ?? '').replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const data: Buffer[] = [];
    ws.on('message', (m: Buffer) => {
      if (m[0] === 0) data.push(m.subarray(1));
    });
    await new Promise((r) => ws.once('close', r));
    // the first data message is the port (2 bytes, little-endian)
    expect(data[0].readUInt16LE(0)).to.equal(LISTEN_PORT);
    expect(Buffer.concat(data.slice(1)).toString()).to.equal('hello from-the-pod');
  });

  it('refuses unknown sandboxes with NOT_FOUND', async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => grpc.status.OK,
        (e: grpc.ServiceError) => e.code,
      );
    expect(await code(server.client.runtime.PortForward({ pod_sandbox_id: 'f'.repeat(64), port: [80] }))).to.equal(grpc.status.NOT_FOUND);
  });

  it('works with crictl port-forward (client-go over spdystream)', async function () {
    // crictl is not packaged by Debian 12 and CI has none: this part runs where a crictl is installed.
    if (!fs.existsSync(CRICTL)) this.skip();
    const local = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const child = spawn(CRICTL, ['--runtime-endpoint', `unix://${server.socket}`, 'port-forward', podId, `${local}:${LISTEN_PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('Forwarding from'), `crictl port-forward to listen (it said: ${out})`, 20_000);
      for (let i = 0; i < 2; i++) {
        const got = await new Promise<string>((resolve, reject) => {
          const c = net.connect(local, '127.0.0.1');
          let d = '';
          c.on('data', (x: Buffer) => (d += x.toString()));
          c.on('end', () => resolve(d));
          c.on('error', reject);
          setTimeout(() => reject(new Error(`no answer; crictl said: ${out}`)), 10_000);
        });
        expect(got).to.equal('hello from-the-pod');
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});
