import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSpawnServer, stopSpawnServer } from '../../src/common/host/command';
import { ConmonDriver } from '../../src/conmon/driver';
import { ContainerEngine } from '../../src/runtime-service/container/engine';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { buildBusyboxImage, createTestPod, tempDir, TestPod } from './helpers/busybox-pod';
import { containerConfig } from './helpers/container-config';
import { removeAllPods } from './harness/client';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs `total` calls of `fn`, `concurrency` at a time; resolves with every failure's message. */
async function hammer(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        await fn(i).catch((err: Error) => failures.push(`#${i}: ${err.message}`));
      }
    }),
  );
  return failures;
}

describe('ExecSync under concurrency (issue 12 item 12)', function () {
  this.timeout(600_000);

  describe('through peapod-cri (runc exec via the spawn server)', () => {
    let network: TestCniNetwork;
    let registry: TestRegistry;
    let server: TestServer;
    let logRoot: string;
    let id: string;

    before(async () => {
      logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-execsync-logs-'));
      network = makeTestCniNetwork();
      registry = await startRegistry();
      await pushImage(registry.url, 'test/busybox', 'v1', await busyboxImage());
      const image = `${registry.host}/test/busybox:v1`;
      server = await startServer({ config: network.configToml });
      await server.client.image.PullImage({ image: { image } });
      const pc = {
        metadata: { name: 'execs', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
        log_directory: path.join(logRoot, 'execs'),
        linux: { security_context: { namespace_options: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
      };
      const podId = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
      id = (await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['sleep', '3600'], log_path: 'c/0.log' }, sandbox_config: pc })).container_id;
      await server.client.runtime.StartContainer({ container_id: id });
    });

    after(async () => {
      if (server) {
        await removeAllPods(server.client);
        await server.cleanup();
      }
      await registry?.stop();
      network?.cleanup();
      if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
    });

    it('runs 20 at once, 50 rounds: every one succeeds with its own output', async () => {
      const failures = await hammer(1000, 20, async (i) => {
        const r = await server.client.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', `echo out-${i}; echo err-${i} >&2`], timeout: 60 });
        if (r.exit_code !== 0 || Buffer.from(r.stdout).toString() !== `out-${i}\n` || Buffer.from(r.stderr).toString() !== `err-${i}\n`) {
          throw new Error(`exit ${r.exit_code}, stdout ${JSON.stringify(Buffer.from(r.stdout).toString())}, stderr ${JSON.stringify(Buffer.from(r.stderr).toString())}`);
        }
      });
      expect(failures).to.deep.equal([]);
      // Nothing of the execs stays in the bundle.
      expect(fs.readdirSync(path.join(server.runroot, 'containers', id)).filter((n) => n.startsWith('exec-'))).to.deep.equal([]);
    });

    it("passes the runtime's own message when the command cannot be started, and the exit code of a signal", async () => {
      const err = await server.client.runtime.ExecSync({ container_id: id, cmd: ['no-such-command'], timeout: 10 }).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(err?.code).to.equal(grpc.status.INTERNAL);
      expect(err?.details).to.contain('no-such-command').and.contain('executable file not found');
      const killed = await server.client.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', 'kill -TERM $$'], timeout: 10 });
      expect(killed.exit_code).to.equal(143);
    });
  });

  describe('through conmon (the way without the spawn server)', () => {
    let dir: string;
    let pod: TestPod;
    let engine: ContainerEngine;
    let id: string;

    before(async () => {
      stopSpawnServer();
      dir = tempDir('peapod-execsync-');
      const image = buildBusyboxImage(path.join(dir, 'image'));
      pod = createTestPod(path.join(dir, 'pod'), path.join(dir, 'pods', 'log'));
      engine = await ContainerEngine.open({
        root: path.join(dir, 'root'),
        runroot: path.join(dir, 'run'),
        conmon: new ConmonDriver('/usr/bin/conmon'),
        runtimes: { runc: { runtime_path: '/usr/sbin/runc', runtime_root: path.join(dir, 'run', 'runc') } },
        defaultRuntime: 'runc',
        cgroupDriver: 'cgroupfs',
        log: silent,
      });
      const rec = await engine.create(pod.sandbox, containerSpecOf(containerConfig('c', { command: ['sleep', '3600'] }), pod.sandbox).spec, image);
      id = rec.id;
      await engine.start(id);
    });

    after(async () => {
      if (engine) {
        for (const c of engine.list()) await engine.remove(c.id).catch(() => undefined);
        engine.close();
      }
      pod?.cleanup();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('runs 20 at once, 20 rounds: every one succeeds (no exec shares a FIFO or socket of the bundle)', async () => {
      const failures = await hammer(400, 20, async (i) => {
        const r = await engine.execSync(id, ['sh', '-c', `echo out-${i}`], 60);
        if (r.exitCode !== 0 || r.stdout.toString() !== `out-${i}\n`) throw new Error(`exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout.toString())}, stderr ${JSON.stringify(r.stderr.toString())}`);
      });
      expect(failures).to.deep.equal([]);
    });

    it("passes the runtime's own message when the command cannot be started", async () => {
      const err = await engine.execSync(id, ['no-such-command'], 10).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.contain('executable file not found');
    });

    it('and the spawn server gives the same results', async () => {
      expect(await startSpawnServer()).to.equal(true);
      try {
        const r = await engine.execSync(id, ['sh', '-c', 'echo hi; exit 4'], 10);
        expect([r.stdout.toString(), r.exitCode]).to.deep.equal(['hi\n', 4]);
      } finally {
        stopSpawnServer();
      }
    });
  });
});
