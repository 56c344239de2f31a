import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestRegistry } from './harness/registry';
import type { TestServer } from './harness/server';
import { waitFor } from './helpers/wait';

/** Whether strace is attached to every thread of `pid`. */
function allThreadsTraced(pid: number): boolean {
  return fs.readdirSync(`/proc/${pid}/task`).every((t) => /^TracerPid:\s+[1-9]/m.test(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8')));
}

/** Files made in the container's writable layer. */
const FILES = 200_000;

describe('a writable layer of 200k files (issue 12 item 4)', function () {
  this.timeout(600_000);
  let registry: TestRegistry;
  let server: TestServer;
  let tracer: ChildProcess | undefined;
  let logRoot: string;
  let stack: CriStack | undefined;

  before(async () => {
    ({ registry, server, logRoot } = stack = await startCriStack({ logPrefix: 'peapod-biglayer-logs-' }));
  });

  after(async () => {
    tracer?.kill('SIGKILL');
    await stack?.stop();
  });

  it('is measured in the background and deleted in the background: the event loop never walks it', async () => {
    const image = `${registry.host}/test/busybox:v1`;
    await server.client.image.PullImage({ image: { image } });
    const pc = {
      metadata: { name: 'big', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: path.join(logRoot, 'big'),
      linux: { security_context: { namespace_options: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    };
    const podId = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const { container_id: id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['sleep', '3600'], log_path: 'c/0.log' }, sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id: id });
    // 200k files in the writable layer, made from the host side (as the container would, only faster).
    const upper = path.join(server.root, 'containers', id, 'upper');
    const many = path.join(upper, 'many');
    fs.mkdirSync(many);
    execFileSync('sh', ['-c', `cd '${many}' && for d in $(seq 0 199); do mkdir d$d; done && seq 0 ${FILES - 1} | awk '{ printf "d%d/f%d\\n", int($1 / 1000), $1 }' | xargs -n 5000 touch`], { stdio: 'ignore' });
    const made = Number(execFileSync('sh', ['-c', `find '${many}' -type f | wc -l`]).toString().trim());
    expect(made).to.be.at.least(FILES * 0.99);

    const pid = server.child.pid!;
    const trace = path.join(server.dir, 'walk.strace');
    tracer = spawn('strace', ['-f', '-qq', '-p', String(pid), '-e', 'trace=getdents64,newfstatat,lstat,statx,unlink,unlinkat,rmdir', '-o', trace], { stdio: 'ignore' });
    await waitFor(() => allThreadsTraced(pid), 20_000, 'strace to attach');

    // Stats answer at once; the layer's numbers follow once measured (in the background).
    await waitFor(
      async () => {
        const [one, list] = await Promise.all([server.client.runtime.ContainerStats({ container_id: id }), server.client.runtime.ListContainerStats({ filter: { id } })]);
        expect(list.stats).to.have.length(1);
        return Number(one.stats!.writable_layer!.inodes_used!.value) >= FILES;
      },
      120_000,
      'the writable layer to be measured',
    );
    await server.client.runtime.StopContainer({ container_id: id, timeout: 0 });
    await server.client.runtime.RemoveContainer({ container_id: id });
    // The writable layer moves into the trash once the rootfs is released, after the answer (container/release.ts).
    await waitFor(() => !fs.existsSync(path.join(server.root, 'containers', id)), 60_000, 'the writable layer to move into the trash');
    expect((await server.client.runtime.ListContainers({})).containers.map((c) => c.id)).to.not.include(id);
    tracer.kill('SIGINT');
    await new Promise((r) => tracer!.once('exit', r));
    tracer = undefined;

    // The tree was walked and deleted, but not by the event-loop thread (its thread id is the pid).
    const onLoop = fs
      .readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${pid} `)).length;
    expect(onLoop, 'directory reads, stats and unlinks on the event loop').to.be.below(2000);
    await waitFor(() => fs.readdirSync(path.join(server.root, 'containers-trash')).length === 0, 120_000, 'the trash to be emptied');
  });
});
