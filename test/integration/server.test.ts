import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadCri } from '../../src/server/proto';
import { CLI_MAIN } from './cli/cli-harness';
import { PEAPOD_CRI_MAIN, startServer, TestServer, waitExit } from './harness/server';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-srv-'));
}

describe('peapod-cri server', () => {
  describe('serving', () => {
    let server: TestServer;
    let cniDir: string;
    before(async () => {
      cniDir = tmpDir();
      server = await startServer({ config: `[network]\ncni_conf_dir = "${cniDir}"\n` });
    });
    after(async () => {
      await server?.cleanup();
      fs.rmSync(cniDir, { recursive: true, force: true });
    });

    it('answers Version with the runtime name and API version', async () => {
      const v = await server.client.runtime.Version({ version: '0.1.0' });
      expect(v.version).to.equal('0.1.0');
      expect(v.runtime_name).to.equal('peapod');
      expect(v.runtime_api_version).to.equal('v1');
      expect(v.runtime_version).to.equal(require('../../../package.json').version);
    });

    it('serves clients that send the socket path as :authority (crictl, critest v1.26)', async () => {
      const cri = loadCri();
      const client = new cri.runtime.v1.RuntimeService(`unix:${server.socket}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': server.socket,
      });
      try {
        const v = await new Promise<{ runtime_name: string }>((resolve, reject) =>
          client.Version({}, (err, res) => (err ? reject(err) : resolve(res as { runtime_name: string }))),
        );
        expect(v.runtime_name).to.equal('peapod');
      } finally {
        client.close();
      }
    });

    it('answers a raw HTTP/2 client, with a valid :authority and with the socket path as :authority', async () => {
      for (const authority of ['localhost', server.socket]) {
        const session = http2.connect('http://localhost', { createConnection: () => net.connect(server.socket) });
        try {
          const req = session.request({ ':method': 'POST', ':path': '/runtime.v1.RuntimeService/Version', ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' });
          // One gRPC message: not compressed, length 0 (an empty VersionRequest).
          req.end(Buffer.alloc(5));
          const { status, trailers, body } = await new Promise<{ status: unknown; trailers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
            let status: unknown;
            const chunks: Buffer[] = [];
            req.on('response', (h) => (status = h[':status']));
            req.on('data', (d: Buffer) => chunks.push(d));
            req.on('trailers', (t) => resolve({ status, trailers: t, body: Buffer.concat(chunks) }));
            req.on('error', reject);
          });
          expect({ authority, status, grpcStatus: trailers['grpc-status'] }).to.deep.equal({ authority, status: 200, grpcStatus: '0' });
          expect(body.subarray(5).toString('latin1')).to.contain('peapod');
        } finally {
          session.close();
        }
      }
    });

    it('makes the socket mode 0660', () => {
      expect(fs.statSync(server.socket).mode & 0o777).to.equal(0o660);
    });

    it('answers no RPC of proto/api.proto with UNIMPLEMENTED (each called with an empty request)', async () => {
      const raw = server.client.raw as unknown as Record<'runtime' | 'image', Record<string, (...args: unknown[]) => grpc.ClientReadableStream<unknown>>>;
      const services = [
        { client: raw.runtime, service: loadCri().runtime.v1.RuntimeService.service },
        { client: raw.image, service: loadCri().runtime.v1.ImageService.service },
      ];
      const codes: Record<string, number> = {};
      for (const { client, service } of services) {
        for (const [name, def] of Object.entries(service)) {
          const deadline = new Date(Date.now() + 2000);
          codes[name] = await new Promise<number>((resolve) => {
            if (def.responseStream) {
              // A stream that is served sends data, ends, or runs into its deadline (GetContainerEvents waits for events).
              const stream = client[name].call(client, {}, new grpc.Metadata(), { deadline });
              stream.on('data', () => resolve(grpc.status.OK));
              stream.on('end', () => resolve(grpc.status.OK));
              stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
            } else {
              client[name].call(client, {}, new grpc.Metadata(), { deadline }, (e: grpc.ServiceError | null) => resolve(e ? e.code : grpc.status.OK));
            }
          });
        }
      }
      expect(Object.keys(codes)).to.have.length(43);
      expect(Object.entries(codes).filter(([, c]) => c === grpc.status.UNIMPLEMENTED).map(([n]) => n)).to.deep.equal([]);
    });

    it('reports RuntimeReady true and NetworkReady false without a CNI config', async () => {
      const s = await server.client.runtime.Status({ verbose: false });
      const byType = Object.fromEntries((s.status?.conditions ?? []).map((c) => [c.type, c]));
      expect(byType.RuntimeReady.status).to.equal(true);
      expect(byType.NetworkReady.status).to.equal(false);
      expect(byType.NetworkReady.reason).to.equal('NetworkPluginNotReady');
      expect(byType.NetworkReady.message).to.contain(cniDir);
      expect(s.info).to.deep.equal({});
    });

    it('turns NetworkReady true once a valid CNI config appears, without a restart', async () => {
      fs.writeFileSync(
        path.join(cniDir, '10-test.conflist'),
        JSON.stringify({ cniVersion: '1.0.0', name: 'test', plugins: [{ type: 'bridge' }] }),
      );
      const s = await server.client.runtime.Status({ verbose: true });
      const net = s.status?.conditions?.find((c) => c.type === 'NetworkReady');
      expect(net?.status).to.equal(true);
      const config = JSON.parse(s.info!.config);
      expect(config.socket).to.equal(server.socket);
      expect(config.network.cni_conf_dir).to.equal(cniDir);
    });

    it('reports the cgroupfs driver by default', async () => {
      const r = await server.client.runtime.RuntimeConfig({});
      expect(r.linux?.cgroup_driver).to.equal('CGROUPFS');
    });

    it('refuses a second server on the same socket with a clear message', async () => {
      const r = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--config', server.configFile, '--config-dir', server.configDir, '--socket', server.socket, '--root', server.root, '--runroot', server.runroot], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.contain(`another server is already listening on ${server.socket}`);
      // The first server still answers.
      expect((await server.client.runtime.Version({})).runtime_name).to.equal('peapod');
    });
  });

  it('reports the systemd cgroup driver when configured', async () => {
    const server = await startServer({ dropIns: { '50-cgroup.conf': '[runtime]\ncgroup_driver = "systemd"\n' } });
    try {
      expect((await server.client.runtime.RuntimeConfig({})).linux?.cgroup_driver).to.equal('SYSTEMD');
    } finally {
      await server.cleanup();
    }
  });

  it('refuses a second peapod-cri on the same root or runroot, naming the first one\'s pid; the CLI shares them; a SIGKILLed one\'s locks are taken over', async () => {
    const first = await startServer();
    const other = tmpDir();
    try {
      const second = (root: string, runroot: string) =>
        spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--config', first.configFile, '--config-dir', first.configDir, '--socket', path.join(other, `${path.basename(runroot)}.sock`), '--root', root, '--runroot', runroot], {
          encoding: 'utf8',
          timeout: 30_000,
        });
      let r = second(first.root, path.join(other, 'runroot'));
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`another peapod-cri (pid ${first.child.pid}) is using the root ${first.root}`);
      r = second(path.join(other, 'root'), first.runroot);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`another peapod-cri (pid ${first.child.pid}) is using the runroot ${first.runroot}`);
      expect((await first.client.runtime.Version({})).runtime_name).to.equal('peapod');
      // The CLI on the same root and runroot, while the server runs (by design).
      const cli = spawnSync(process.execPath, [CLI_MAIN, '--root', first.root, '--runroot', first.runroot, '--config', first.configFile, '--config-dir', first.configDir, 'images', '-q'], { encoding: 'utf8', timeout: 30_000 });
      expect(cli.status, cli.stderr).to.equal(0);
      // Killed with SIGKILL: no cleanup ran, and the next server on both takes the locks over.
      await first.kill();
      const next = await startServer({ dir: first.dir });
      await next.client.runtime.Version({});
      await next.stop();
    } finally {
      await first.cleanup();
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('reports RuntimeReady false when the OCI runtime is missing', async () => {
    const server = await startServer({ config: '[runtime.runtimes.runc]\nruntime_path = "/nonexistent/runc"\n' });
    try {
      const s = await server.client.runtime.Status({});
      const rt = s.status?.conditions?.find((c) => c.type === 'RuntimeReady');
      expect(rt?.status).to.equal(false);
      expect(rt?.message).to.contain('/nonexistent/runc');
    } finally {
      await server.cleanup();
    }
  });

  it('replaces a stale socket file', async () => {
    const dir = tmpDir();
    const sock = path.join(dir, 'peapod.sock');
    // A socket nobody listens on any more: a process that listened there and died by SIGKILL.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(fs.lstatSync(sock).isSocket()).to.equal(true);
    const server = await startServer({ dir });
    try {
      expect((await server.client.runtime.Version({})).runtime_name).to.equal('peapod');
    } finally {
      await server.cleanup();
    }
  });

  it('stops with a configuration error naming the file, key and type', () => {
    const dir = tmpDir();
    const conf = path.join(dir, 'peapod.conf');
    fs.writeFileSync(conf, 'socket = "/tmp/x.sock"\nlog_levl = "debug"\n');
    const r = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--config', conf, '--config-dir', dir, '--socket', path.join(dir, 's.sock')], { encoding: 'utf8' });
    const missingDir = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--config', conf, '--config-dir', path.join(dir, 'none.d')], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal(`peapod-cri: configuration error: ${conf}: unknown key "log_levl"`);
    expect(missingDir.status).to.equal(2);
    expect(missingDir.stderr.trim()).to.equal(`peapod-cri: configuration error: ${path.join(dir, 'none.d')}: config directory not found`);
  });

  it('stops with a configuration error for a bad drop-in', async () => {
    const dir = tmpDir();
    const conf = path.join(dir, 'peapod.conf');
    const dropDir = path.join(dir, 'peapod.conf.d');
    fs.mkdirSync(dropDir);
    fs.writeFileSync(conf, '');
    fs.writeFileSync(path.join(dropDir, '10-x.conf'), '[runtime]\ncgroup_driver = 1\n');
    const r = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--config', conf, '--config-dir', dropDir, '--socket', path.join(dir, 's.sock')], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal(
      `peapod-cri: configuration error: ${path.join(dropDir, '10-x.conf')}: key "runtime.cgroup_driver" must be a string, got integer`,
    );
  });

  it('prints --version and --help', () => {
    const v = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--version'], { encoding: 'utf8' });
    expect(v.status).to.equal(0);
    expect(v.stdout.trim()).to.equal(require('../../../package.json').version);
    const h = spawnSync(process.execPath, [PEAPOD_CRI_MAIN, '--help'], { encoding: 'utf8' });
    expect(h.status).to.equal(0);
    for (const flag of ['--config', '--config-dir', '--socket', '--root', '--runroot', '--log-level']) expect(h.stdout).to.contain(flag);
  });

  it('finishes a call in flight on SIGTERM, then exits 0 and removes its socket', async () => {
    // An OCI runtime that takes 1.5 s to answer --version makes Status slow.
    const dir = tmpDir();
    const slow = path.join(dir, 'slow-runc');
    fs.writeFileSync(slow, '#!/bin/sh\nsleep 1.5\necho "runc version 0.0.0"\n', { mode: 0o755 });
    const server = await startServer({ config: `log_level = "debug"\n[runtime.runtimes.runc]\nruntime_path = "${slow}"\n` });
    try {
      const inFlight = server.client.runtime.Status({});
      // The call is in flight once the server runs the slow runtime for it.
      const probing = (): boolean => fs.readdirSync('/proc').some((p) => /^[0-9]+$/.test(p) && (() => { try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(slow); } catch { return false; } })());
      for (const end = Date.now() + 30_000; !probing() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      server.child.kill('SIGTERM');
      const s = await inFlight;
      expect(s.status?.conditions?.find((c) => c.type === 'RuntimeReady')?.status).to.equal(true);
      expect(await waitExit(server.child)).to.equal(0);
      expect(fs.existsSync(server.socket)).to.equal(false);
      expect(server.stderr()).to.match(/"method":"\/runtime\.v1\.RuntimeService\/Status".*"code":"OK"/);
      // A new call after shutdown is refused.
      const err = await server.client.runtime.Version({}, { deadline: Date.now() + 1000 }).then(() => null, (e: grpc.ServiceError) => e);
      expect(err).to.not.equal(null);
    } finally {
      await server.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs every RPC with its status, and failures at error level with the cause', async () => {
    const server = await startServer({ config: 'log_level = "debug"\n' });
    const waitLog = async (re: RegExp): Promise<void> => {
      // A log line is written after the answer is sent: wait for it.
      for (let i = 0; i < 50 && !re.test(server.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
    };
    try {
      await server.client.runtime.Version({});
      await waitLog(/Version","durationMs":[^\n]*"code":"OK"/);
      expect(server.stderr()).to.match(/"level":20,[^\n]*"method":"\/runtime\.v1\.RuntimeService\/Version","durationMs":[\d.]+,"code":"OK"/);
      await server.client.runtime.ContainerStatus({ container_id: 'no-such-container' }).catch(() => undefined);
      await waitLog(/"level":50,[^\n]*ContainerStatus/);
      expect(server.stderr()).to.match(/"level":50,[^\n]*"method":"\/runtime\.v1\.RuntimeService\/ContainerStatus"[^\n]*"code":"NOT_FOUND"[^\n]*no-such-container/);
    } finally {
      await server.cleanup();
    }
  });

});

