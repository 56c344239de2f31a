import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processesWithArgument } from '../../src/common/host/proc';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestServer } from './harness/server';
import { until, waitFor } from './helpers/wait';

/**
 * Racing lifecycle calls on one container or pod, as a kubelet and an
 * operator can send them: every Stop and Remove succeeds or answers
 * NOT_FOUND, never INTERNAL, and nothing is left behind.
 */
/** The conmon processes naming `id` among their arguments (the monitor of a container or its pod's). */
async function monitorsOf(id: string): Promise<number[]> {
  const procs = await processesWithArgument(id);
  return procs.map((p) => p.pid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'conmon';
    } catch {
      return false;
    }
  });
}

describe('racing Stop and Remove calls (real runc, conmon, CNI)', function () {
  this.timeout(180_000);
  let server: TestServer;
  let image: string;
  let stack: CriStack | undefined;

  const podConfig = (name: string): PodSandboxConfig => ({
    metadata: { name, namespace: 'peapod-races', uid: randomBytes(8).toString('hex'), attempt: 0 },
    hostname: name,
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  });
  const ctr = (name: string, script: string): ContainerConfig => ({ metadata: { name, attempt: 0 }, image: { image }, command: ['/bin/sh', '-c', script] });

  /** The outcome of a call: 'ok' or the name of its gRPC status, with the message. */
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`,
    );

  before(async () => {
    ({ server, image } = stack = await startCriStack({ logPrefix: 'peapod-concurrent-logs-', pull: true }));
  });

  after(async () => {
    await stack?.stop();
  });

  async function runningContainer(pod: string, pc: PodSandboxConfig, name: string): Promise<string> {
    // It ignores SIGTERM, so a Stop with a grace period waits and then kills.
    const { container_id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr(name, 'trap "" TERM; while :; do sleep 0.1; done'), sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id });
    return container_id;
  }

  it('several StopContainer and RemoveContainer calls on one container at once all succeed, and it is gone', async () => {
    const pc = podConfig('ctr-races');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    for (let round = 0; round < 3; round++) {
      const id = await runningContainer(pod, pc, `racer-${round}`);
      const rt = server.client.runtime;
      const calls = [
        rt.StopContainer({ container_id: id, timeout: 2 }),
        rt.RemoveContainer({ container_id: id }),
        rt.StopContainer({ container_id: id, timeout: 0 }),
        rt.StopContainer({ container_id: id, timeout: 1 }),
        rt.RemoveContainer({ container_id: id }),
        rt.StopContainer({ container_id: id, timeout: 0 }),
        rt.RemoveContainer({ container_id: id }),
      ];
      const outcomes = await Promise.all(calls.map(outcome));
      for (const o of outcomes) expect(o === 'ok' || o.startsWith('NOT_FOUND'), o).to.equal(true);
      const { containers } = await rt.ListContainers({});
      expect(containers.map((c) => c.id)).to.not.include(id);
      // Removed means gone: no monitor left to write an exit file or socket link after the answer.
      expect(await monitorsOf(id)).to.deep.equal([]);
      // The runtime's delete runs in the background after the answer (container/release.ts) and ends on its own.
      await waitFor(async () => (await processesWithArgument(id)).length === 0, 20_000, `the processes naming ${id} to end`);
      // The exit file and socket link go first in that release, off the event loop.
      for (const [d, what] of [['containers-exits', 'exit file'], ['containers-sockets', 'socket link']]) {
        await until(() => !fs.existsSync(path.join(server.runroot, d, id)), 20_000);
        expect(fs.existsSync(path.join(server.runroot, d, id)), what).to.equal(false);
      }
    }
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
  });

  it('StopPodSandbox and RemovePodSandbox racing each other and the calls on its containers all succeed, and the pod is gone', async () => {
    for (let round = 0; round < 2; round++) {
      const pc = podConfig(`pod-races-${round}`);
      const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
      const ids = [await runningContainer(pod, pc, 'a'), await runningContainer(pod, pc, 'b')];
      const rt = server.client.runtime;
      const calls: Promise<unknown>[] = [
        rt.StopPodSandbox({ pod_sandbox_id: pod }),
        rt.RemovePodSandbox({ pod_sandbox_id: pod }),
        rt.StopPodSandbox({ pod_sandbox_id: pod }),
        rt.RemovePodSandbox({ pod_sandbox_id: pod }),
      ];
      for (const id of ids) calls.push(rt.StopContainer({ container_id: id, timeout: 1 }), rt.RemoveContainer({ container_id: id }), rt.StopContainer({ container_id: id, timeout: 0 }));
      const outcomes = await Promise.all(calls.map(outcome));
      for (const o of outcomes) expect(o === 'ok' || o.startsWith('NOT_FOUND'), o).to.equal(true);
      expect((await rt.ListPodSandbox({})).items.map((p) => p.id)).to.not.include(pod);
      const { containers } = await rt.ListContainers({});
      for (const id of ids) expect(containers.map((c) => c.id)).to.not.include(id);
      for (const id of [pod, ...ids]) expect(await monitorsOf(id), id).to.deep.equal([]);
      // Releases of containers removed by RemoveContainer run in the background (container/release.ts): what they
      // hold is gone once they end, with a deadline.
      for (const id of [pod, ...ids]) await waitFor(async () => (await processesWithArgument(id)).length === 0, 20_000, `the processes naming ${id} to end`);
      for (const d of ['containers-exits', 'containers-sockets', 'containers', 'sandboxes']) {
        const dir = path.join(server.runroot, d);
        await until(() => fs.readdirSync(dir).length === 0, 20_000);
        expect(fs.readdirSync(dir), d).to.deep.equal([]);
      }
    }
  });

  it('RemoveContainer and RemovePodSandbox remove the temp a monitor killed while writing its exit file leaves', async () => {
    // conmon writes the exit file through a temp (<id>.XXXXXX, then a rename); a removal right after the exit,
    // which persist/exit already recorded, can kill it between the two. The temp is planted here, as it is left.
    const pc = podConfig('exit-temps');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const rt = server.client.runtime;
    const exits = path.join(server.runroot, 'containers-exits');
    const ids: string[] = [];
    for (const name of ['by-remove-container', 'by-remove-pod']) {
      const { container_id } = await rt.CreateContainer({ pod_sandbox_id: pod, config: ctr(name, 'exit 0'), sandbox_config: pc });
      await rt.StartContainer({ container_id });
      await waitFor(async () => (await rt.ContainerStatus({ container_id })).status?.state === 'CONTAINER_EXITED', 30_000, `${name} to exit`);
      await waitFor(async () => (await monitorsOf(container_id)).length === 0, 20_000, `the monitor of ${name} to end`);
      fs.writeFileSync(path.join(exits, `${container_id}.Ab12Cd`), '0');
      ids.push(container_id);
    }
    await rt.RemoveContainer({ container_id: ids[0] });
    await rt.RemovePodSandbox({ pod_sandbox_id: pod });
    const left = (): string[] => fs.readdirSync(exits).filter((n) => ids.some((id) => n.startsWith(id)));
    await until(() => left().length === 0, 20_000);
    expect(left()).to.deep.equal([]);
  });
});

