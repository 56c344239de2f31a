/**
 * Interoperability with the Kubernetes client code itself: a small Go
 * program (test/interop/k8s-spdy-client) on client-go's remotecommand and
 * portforward over moby/spdystream — what crictl and the kubelet use —
 * against peapod's streaming server. Requests are registered through the
 * real Exec and PortForward handlers; the backend is the FAKE host-process
 * backend (exec runs on the host); port forwarding is real (nsenter + socat
 * into a test network namespace).
 *
 * The Go program is built against a vendored client-go: the cri-tools source
 * tree at /opt/cri-tools-src (PEAPOD_CLIENT_GO_TREE overrides). Skipped, with
 * the reason, when Go or that tree is absent.
 */
import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { exec } from '../../src/runtime-service/exec';
import { portForward } from '../../src/runtime-service/port-forward';
import type { StreamingRegistrar } from '../../src/runtime-service/streaming-context';
import { StreamingServer } from '../../src/streaming/server';
import { FakeHostProcessBackend } from '../support/fake-host-process-backend';
import { waitFor } from '../support/socket-pair';

const TREE = process.env.PEAPOD_CLIENT_GO_TREE ?? '/opt/cri-tools-src';
const SOURCE = path.resolve(__dirname, '..', '..', '..', 'test', 'interop', 'k8s-spdy-client', 'main.go');
const ECHO_PORT = 7781;
const BUILD_DIR = path.join(os.tmpdir(), 'peapod-k8s-spdy-client-build');

/**
 * Builds the Go client in a module that borrows the tree's go.mod and
 * vendor/; returns the binary path. The directory is fixed (not a fresh temp
 * dir) because Go's build cache keys vendored packages by their directory:
 * a new directory each run would recompile client-go (minutes).
 */
function buildClient(dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'go.mod'), fs.readFileSync(path.join(TREE, 'go.mod'), 'utf8').replace(/^module .*$/m, 'module peapod.test/k8sspdyclient'));
  fs.copyFileSync(path.join(TREE, 'go.sum'), path.join(dir, 'go.sum'));
  fs.symlinkSync(path.join(TREE, 'vendor'), path.join(dir, 'vendor'));
  fs.mkdirSync(path.join(dir, 'cmd'));
  fs.copyFileSync(SOURCE, path.join(dir, 'cmd', 'main.go'));
  const bin = path.join(dir, 'k8s-spdy-client');
  execFileSync('go', ['build', '-o', bin, './cmd'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=vendor', GOTOOLCHAIN: 'local' }, stdio: 'pipe' });
  return bin;
}

function run(bin: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('streaming interop with client-go (remotecommand, portforward over spdystream), fake host-process backend', function () {
  this.timeout(120_000);
  let bin: string;
  let backend: FakeHostProcessBackend;
  let server: StreamingServer;
  let streaming: StreamingRegistrar<FakeHostProcessBackend>;
  let netnsName: string | undefined;
  let echoServer: ChildProcess | undefined;

  const execUrl = async (cmd: string[], flags: { stdin?: boolean; stderr?: boolean; tty?: boolean } = {}): Promise<string> =>
    (await exec(streaming)({ container_id: 'ctr1', cmd, tty: flags.tty ?? false, stdin: flags.stdin ?? false, stdout: true, stderr: flags.stderr ?? false })).url ?? '';

  before(async function () {
    if (spawnSync('go', ['version']).status !== 0 || !fs.existsSync(path.join(TREE, 'vendor', 'k8s.io', 'client-go', 'tools', 'remotecommand'))) {
      this.skip(); // no Go toolchain or no vendored client-go here
    }
    this.timeout(600_000); // the first build compiles client-go
    bin = buildClient(BUILD_DIR);
    backend = new FakeHostProcessBackend();
    backend.running.add('ctr1');
    server = new StreamingServer({ address: '127.0.0.1', port: 0, idleTimeoutMs: 60_000, creationTimeoutMs: 30_000, backends: { remoteCommand: backend, portForward: backend }, log: pino({ level: process.env.PEAPOD_TEST_LOG ?? 'silent' }) });
    await server.start();
    streaming = { backend, register: (r) => server.register(r) };

    netnsName = `peapod-kc-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', netnsName]);
    execFileSync('ip', ['netns', 'exec', netnsName, 'ip', 'link', 'set', 'lo', 'up']);
    backend.sandboxes.set('pod1', `/run/netns/${netnsName}`);
    echoServer = spawn('ip', ['netns', 'exec', netnsName, 'socat', `TCP4-LISTEN:${ECHO_PORT},bind=127.0.0.1,reuseaddr,fork`, 'EXEC:cat'], { stdio: 'ignore' });
    const ns = netnsName;
    await waitFor(() => spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'socat', '-u', '/dev/null', `TCP4:127.0.0.1:${ECHO_PORT}`]).status === 0, 'echo server');
  });

  after(async () => {
    echoServer?.kill('SIGKILL');
    await server?.stop();
    if (netnsName) spawnSync('ip', ['netns', 'del', netnsName]);
  });

  it('execs with stdout and stderr, exit code 0', async () => {
    const r = await run(bin, ['exec', await execUrl(['sh', '-c', 'echo out; echo err >&2'], { stderr: true }), '-stderr']);
    expect(r.stdout).to.equal('out\n');
    expect(r.stderr).to.equal('err\n');
    expect(r.code).to.equal(0);
  });

  it('passes stdin and closes it on EOF', async () => {
    const r = await run(bin, ['exec', await execUrl(['tr', 'a-z', 'A-Z'], { stdin: true }), '-stdin'], 'shout\n');
    expect(r.stdout).to.equal('SHOUT\n');
    expect(r.code, r.stderr).to.equal(0);
  });

  it('gets exit code 3 from the v4 Status', async () => {
    const r = await run(bin, ['exec', await execUrl(['sh', '-c', 'exit 3'])]);
    expect(r.code, r.stderr).to.equal(3);
  });

  it('transfers 1 MB of output (beyond the 64 KiB SPDY window)', async () => {
    const r = await run(bin, ['exec', await execUrl(['sh', '-c', 'head -c 1000000 /dev/zero | tr "\\0" x'])]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.length).to.equal(1_000_000);
  });

  it('runs a tty exec: the terminal size arrives on the resize stream, stderr is merged', async () => {
    const before = backend.resizes.length;
    const r = await run(bin, ['exec', await execUrl(['sh', '-c', 'echo to-terminal; echo err >&2'], { tty: true }), '-tty']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('to-terminal\nerr\n');
    expect(backend.resizes[before]).to.deep.equal([{ width: 100, height: 30 }]);
  });

  it('port-forwards into the network namespace', async () => {
    const local = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const url = (await portForward(streaming)({ pod_sandbox_id: 'pod1', port: [ECHO_PORT] })).url ?? '';
    const child = spawn(bin, ['portforward', url, `${local}:${ECHO_PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('ready'), 'client-go port-forward to listen', 15_000);
      for (const msg of ['first\n', 'second\n', 'y'.repeat(200_000)]) {
        const reply = await new Promise<string>((resolve, reject) => {
          const c = net.connect(local, '127.0.0.1');
          let got = '';
          const timer = setTimeout(() => reject(new Error(`no echo, got ${got.length} bytes; client said: ${out}`)), 15_000);
          c.on('data', (d: Buffer) => {
            got += d.toString();
            if (got.length >= msg.length) {
              clearTimeout(timer);
              c.end();
              resolve(got);
            }
          });
          c.on('error', reject);
          c.write(msg);
        });
        expect(reply).to.equal(msg);
      }
    } finally {
      child.kill('SIGINT');
    }
  });
});
