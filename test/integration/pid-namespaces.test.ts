import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { isProcessAlive } from '../../src/common/host/proc';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { rpcError, until } from './helpers/wait';

const mountPointsUnder = (dir: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir + '/'));

describe('PID namespaces: the pod\'s is pinned, a TARGET is a live container of the same pod', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let server: TestServer;
  let image: string;
  let logRoot: string;

  const podConfig = (name: string, pid: 'POD' | 'CONTAINER'): PodSandboxConfig => ({
    metadata: { name, namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
    log_directory: path.join(logRoot, name),
    linux: { security_context: { namespace_options: { network: 'NODE', pid, ipc: 'POD' } } },
  });
  const ctr = (name: string, script: string, extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image },
    command: ['/bin/sh', '-c', script],
    log_path: `${name}/0.log`,
    ...extra,
  });
  const target = (targetId: string): Partial<ContainerConfig> => ({
    linux: { security_context: { namespace_options: { network: 'NODE', pid: 'TARGET', ipc: 'POD', target_id: targetId } } },
  });
  async function run(pod: string, pc: PodSandboxConfig, config: ContainerConfig): Promise<string> {
    const { container_id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config, sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id });
    return container_id;
  }
  const exec = async (id: string, script: string): Promise<string> =>
    (await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', script], timeout: 10 })).stdout.toString();

  before(async () => {
    logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-pidns-logs-'));
    registry = await startRegistry();
    await pushImage(registry.url, 'test/busybox', 'v1', await busyboxImage());
    image = `${registry.host}/test/busybox:v1`;
    server = await startServer();
    await server.client.image.PullImage({ image: { image } });
  });

  after(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
  });

  it('pins the pod\'s PID namespace; once the infra process is gone the pod is notready and takes no container', async () => {
    const pc = podConfig('pinned', 'POD');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const verbose = await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: pod, verbose: true });
    const info = JSON.parse(verbose.info!.info) as { infraPid: number; namespaces: Record<string, string> };
    const pin = path.join(server.runroot, 'sandboxes', pod, 'pidns');
    expect(info.namespaces.pid).to.equal(pin);
    expect(mountPointsUnder(path.join(server.runroot, 'sandboxes', pod))).to.include(pin);
    expect(fs.readlinkSync(`/proc/${info.infraPid}/ns/pid`)).to.not.equal(fs.readlinkSync('/proc/self/ns/pid'));
    // A container of the pod shares the infra's namespace: its PID 1 is peapod's pause program.
    const c1 = await run(pod, pc, ctr('inpod', 'while true; do sleep 1; done'));
    expect(await exec(c1, 'cat /proc/1/cmdline | tr "\\0" " "')).to.match(new RegExp(`^\\S*/peapod-pause .*-- peapod-infra ${pod} $`));
    expect(await exec(c1, 'cat /proc/1/comm')).to.equal('pause\n');
    await server.client.runtime.StopContainer({ container_id: c1, timeout: 0 });

    // Listed ready first, so the list's last liveness check of this pod passed (liveness-cache.ts).
    const listedState = async (): Promise<string | undefined> => (await server.client.runtime.ListPodSandbox({})).items.find((p) => p.id === pod)?.state;
    expect(await listedState()).to.equal('SANDBOX_READY');
    const startTime = fs.readFileSync(`/proc/${info.infraPid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    process.kill(info.infraPid, 'SIGKILL');
    expect(await until(() => !isProcessAlive({ pid: info.infraPid, startTime }), 10_000), 'the infra process is gone').to.equal(true);
    // A list alone (no status call) reports the loss once its trusted check is older than its bound.
    expect(await until(async () => (await listedState()) === 'SANDBOX_NOTREADY', 20_000), 'ListPodSandbox shows the pod NOTREADY').to.equal(true);
    const err = await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('late', 'true'), sandbox_config: pc }));
    expect(err.code, err.details).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(err.details).to.contain('not ready');
    expect((await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: pod })).status!.state).to.equal('SANDBOX_NOTREADY');
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
    expect(mountPointsUnder(server.runroot).filter((m) => m.includes(pod))).to.deep.equal([]);
  });

  it('reaps the orphans of the pod\'s processes: PID 1 is their parent and no zombie stays', async () => {
    const pc = podConfig('reaper', 'POD');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const c = await run(pod, pc, ctr('parent', 'while true; do sleep 1; done'));
    // The inner shell starts a sleep in the background and exits at once: the sleep is orphaned.
    const orphan = Number((await exec(c, 'sh -c "sleep 2 & echo \\$!"')).trim());
    expect(orphan).to.be.greaterThan(1);
    const statOf = async (): Promise<string> => exec(c, `cat /proc/${orphan}/stat 2>/dev/null || true`);
    const ppid = (await statOf()).split(') ')[1]?.split(' ')[1];
    expect(ppid, 'the orphan\'s parent, in the pod\'s PID namespace').to.equal('1');
    // Once it exits, PID 1 reaps it: gone from /proc, never a lasting zombie.
    expect(await until(async () => (await statOf()) === '', 20_000), `orphan ${orphan} still in /proc: ${await statOf()}`).to.equal(true);
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: pod });
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
  });

  it('the infra process exits on SIGTERM (PID 1 ignores a signal it has no handler for): the pod becomes notready', async () => {
    const pc = podConfig('sigterm', 'POD');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const info = JSON.parse((await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: pod, verbose: true })).info!.info) as { infraPid: number };
    const startTime = fs.readFileSync(`/proc/${info.infraPid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    process.kill(info.infraPid, 'SIGTERM');
    expect(await until(() => !isProcessAlive({ pid: info.infraPid, startTime }), 10_000), 'the infra process is gone after SIGTERM').to.equal(true);
    expect((await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: pod })).status!.state).to.equal('SANDBOX_NOTREADY');
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
  });

  it('joins a running container of the same pod; refuses one of another pod, an exited one and an unknown one', async () => {
    const pcA = podConfig('target-a', 'CONTAINER');
    const podA = (await server.client.runtime.RunPodSandbox({ config: pcA })).pod_sandbox_id;
    const pcB = podConfig('target-b', 'CONTAINER');
    const podB = (await server.client.runtime.RunPodSandbox({ config: pcB })).pod_sandbox_id;
    const x = await run(podA, pcA, ctr('x', 'exec sleep 3600'));

    // Same pod: the new container sees X's process.
    const t = await run(podA, pcA, ctr('t', 'while true; do sleep 1; done', target(x)));
    expect(await exec(t, 'ps -o args')).to.contain('sleep 3600');

    // Another pod's container: never.
    let err = await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: podB, config: ctr('t2', 'true', target(x)), sandbox_config: pcB }));
    expect(err.code, err.details).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('namespace_options.target_id');
    expect(err.details).to.contain('another pod sandbox');

    err = await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: podA, config: ctr('t3', 'true', target('f'.repeat(64))), sandbox_config: pcA }));
    expect(err.code, err.details).to.equal(grpc.status.INVALID_ARGUMENT);

    // An exited one: its pid names nothing of it any more.
    await server.client.runtime.StopContainer({ container_id: x, timeout: 0 });
    err = await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: podA, config: ctr('t4', 'true', target(x)), sandbox_config: pcA }));
    expect(err.code, err.details).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(err.details).to.contain('exited');
    // Nothing was left of the refused ones.
    const names = (await server.client.runtime.ListContainers({ filter: { pod_sandbox_id: podA } })).containers.map((c) => c.metadata!.name).sort();
    expect(names).to.deep.equal(['t', 'x']);
  });
});
