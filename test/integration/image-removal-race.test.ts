import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { selfIdentity } from '../../src/common/host/proc';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { until } from './helpers/wait';

describe('RemoveImage against a CreateContainer in flight', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let server: TestServer;
  let logRoot: string;
  let base: string;
  let other: string;

  before(async () => {
    logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rmi-race-logs-'));
    registry = await startRegistry();
    await pushImage(registry.url, 'test/base', 'v1', await busyboxImage());
    await pushImage(registry.url, 'test/other', 'v1', await busyboxImage({ Env: ['OTHER=1'], Labels: { other: 'yes' } }));
    base = `${registry.host}/test/base:v1`;
    other = `${registry.host}/test/other:v1`;
    server = await startServer();
    for (const image of [base, other]) await server.client.image.PullImage({ image: { image } });
  });

  after(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
  });

  it('never deletes the layers of a container being created: a removal between resolving the image and recording the container makes the creation NOT_FOUND, leaving nothing', async () => {
    const pc: PodSandboxConfig = {
      metadata: { name: 'race', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: path.join(logRoot, 'race'),
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const ctr = (name: string, image: string, extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
      metadata: { name, attempt: 0 },
      image: { image },
      command: ['/bin/sh', '-c', 'exec sleep 3600'],
      log_path: `${name}/0.log`,
      ...extra,
    });
    const { container_id: target } = await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('target', base), sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id: target });

    // Hold the target container's lock as another live process would: a
    // TARGET creation then stops after resolving its image and before
    // recording itself (it reads the target's exit under that lock), a
    // window that exists whenever the creation waits for anything.
    const db = new Database(path.join(server.root, 'state.db'), { timeout: 30_000 });
    const me = selfIdentity();
    const locked = (key: string) => db.prepare('SELECT 1 FROM locks WHERE key = ?').get(key) !== undefined;
    try {
      db.prepare('INSERT INTO locks (key, pid, acquired, start_time) VALUES (?, ?, ?, ?)').run(`container:${target}`, me.pid, Date.now(), me.startTime);
      const creation = server.client.runtime
        .CreateContainer({
          pod_sandbox_id: pod,
          config: ctr('late', other, { linux: { security_context: { namespace_options: { network: 'NODE', pid: 'TARGET', ipc: 'POD', target_id: target } } } }),
          sandbox_config: pc,
        })
        .then(
          (r) => ({ id: r.container_id, err: undefined }),
          (err: grpc.ServiceError) => ({ id: undefined, err }),
        );
      // It holds the pod's lock from before it resolves the image until it records the container.
      expect(await until(() => locked(`pod:${pod}`), 30_000, 20), 'the creation is under way').to.equal(true);
      await server.client.image.RemoveImage({ image: { image: other } });
      expect((await server.client.image.ImageStatus({ image: { image: other } })).image).to.equal(null);
      db.prepare('DELETE FROM locks WHERE key = ?').run(`container:${target}`);

      const { id, err } = await creation;
      expect(id, 'the creation succeeded on a removed image').to.equal(undefined);
      expect(err!.code, err!.details).to.equal(grpc.status.NOT_FOUND);
      expect(err!.details).to.contain('was removed');
    } finally {
      db.prepare('DELETE FROM locks WHERE key = ?').run(`container:${target}`);
      db.close();
    }
    const names = (await server.client.runtime.ListContainers({ filter: { pod_sandbox_id: pod } })).containers.map((c) => c.metadata!.name);
    expect(names).to.deep.equal(['target']);
    expect(fs.readdirSync(path.join(server.runroot, 'containers'))).to.deep.equal([target]);

    // The other order: once recorded, the image is in use.
    const err = await server.client.image.RemoveImage({ image: { image: base } }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).to.equal(grpc.status.FAILED_PRECONDITION);
  });
});
