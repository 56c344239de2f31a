import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { until } from './helpers/wait';

/** Whether `dir` is a mount point in this process's mount namespace. */
function mounted(dir: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

describe("RemoveImage right after RemoveContainer waits for the container's background release", function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let server: TestServer;
  let dir: string;
  let gate: { armed: string; open: string };
  let image: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rmi-release-'));
    gate = { armed: path.join(dir, 'armed'), open: path.join(dir, 'open') };
    // runc, except that `delete` waits for the gate while it is armed: the
    // removed container's background release (runtime delete, then the
    // rootfs unmount) holds there with its overlay still mounted.
    const runc = path.join(dir, 'gated-runc');
    fs.writeFileSync(
      runc,
      `#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = delete ] && [ -e '${gate.armed}' ]; then\n    while [ ! -e '${gate.open}' ]; do sleep 0.02; done\n  fi\ndone\nexec /usr/sbin/runc "$@"\n`,
      { mode: 0o755 },
    );
    registry = await startRegistry();
    await pushImage(registry.url, 'test/released', 'v1', await busyboxImage({ Env: ['RELEASED=1'] }));
    image = `${registry.host}/test/released:v1`;
    server = await startServer({ config: `[runtime.runtimes.runc]\nruntime_path = "${runc}"\n` });
    await server.client.image.PullImage({ image: { image } });
  });

  after(async () => {
    if (gate) fs.writeFileSync(gate.open, '');
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers only once the rootfs on its layers is unmounted, then removes the image and its layers', async () => {
    const pc: PodSandboxConfig = {
      metadata: { name: 'release', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: path.join(dir, 'logs'),
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const config: ContainerConfig = { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['/bin/sh', '-c', 'exec sleep 3600'], log_path: 'c/0.log' };
    const { container_id: id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config, sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id: id });
    await server.client.runtime.StopContainer({ container_id: id, timeout: 0 });
    const rootfs = path.join(server.runroot, 'containers', id, 'rootfs');
    expect(mounted(rootfs), 'the stopped container keeps its rootfs mounted').to.equal(true);

    fs.writeFileSync(gate.armed, '');
    await server.client.runtime.RemoveContainer({ container_id: id });
    // Answered, and its release is held at the gate with the rootfs mounted.
    expect((await server.client.runtime.ListContainers({})).containers.map((c) => c.id)).to.not.include(id);
    expect(mounted(rootfs)).to.equal(true);

    let answered = false;
    const removal = server.client.image.RemoveImage({ image: { image } }).then(() => {
      answered = true;
      return { rootfsMounted: mounted(rootfs) };
    });
    // Either the removal answers at once (the layers go under a mounted
    // overlay) or it waits for the release, which the gate then lets end.
    expect(await until(() => answered || server.stderr().includes('image removal waits for the background release'), 60_000, 20)).to.equal(true);
    fs.writeFileSync(gate.open, '');
    const { rootfsMounted } = await removal;
    expect(rootfsMounted, 'RemoveImage answered while the removed container still had its rootfs mounted on the image').to.equal(false);
    expect((await server.client.image.ImageStatus({ image: { image } })).image).to.equal(null);
    expect(fs.readdirSync(path.join(server.root, 'storage', 'overlay'))).to.deep.equal(['l']);
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
  });
});
