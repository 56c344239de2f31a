import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import type { PodSandboxConfig__Output } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { CallContext } from '../../src/server/rpc';
import type { RuntimeContext } from '../../src/runtime-service/cri/context';
import { removePodSandbox } from '../../src/runtime-service/cri/remove-pod-sandbox';
import { runPodSandbox } from '../../src/runtime-service/cri/run-pod-sandbox';
import { loadCriConfig } from '../../src/server/config';
import { RetryStore } from '../../src/server/retry-store';
import { openPeapod, Peapod } from '../../src/runtime-service/peapod';
import { LifecycleEvents } from '../../src/runtime-service/lifecycle-events';
import { tempDir } from './helpers/busybox-pod';

/** A host-network pod (no CNI, no namespaces to pin): its creation is quick and deterministic. */
function hostPod(name: string): PodSandboxConfig__Output {
  return {
    metadata: { name, namespace: 'retry', uid: `uid-${name}`, attempt: 0 },
    hostname: '',
    log_directory: '',
    dns_config: null,
    port_mappings: [],
    labels: {},
    annotations: {},
    linux: { cgroup_parent: '', sysctls: {}, security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'NODE', target_id: '', userns_options: null } } as never, overhead: null, resources: null },
    windows: null,
  } as PodSandboxConfig__Output;
}

/** A call whose caller's cancellation is set by the test. */
function call(): CallContext & { cancel(): void } {
  let cancelled = false;
  return { method: '/runtime.v1.RuntimeService/RunPodSandbox', deadline: Infinity, get cancelled() { return cancelled; }, cancel: () => (cancelled = true) };
}

describe('RunPodSandbox retried by the kubelet', function () {
  this.timeout(60_000);
  let dir: string;
  let peapod: Peapod;
  let ctx: RuntimeContext;

  before(() => {
    dir = tempDir('peapod-retry-');
    fs.writeFileSync(path.join(dir, 'peapod.conf'), '');
    fs.mkdirSync(path.join(dir, 'peapod.conf.d'));
    const config = loadCriConfig({ configFile: path.join(dir, 'peapod.conf'), configDir: path.join(dir, 'peapod.conf.d'), overrides: { root: path.join(dir, 'root'), runroot: path.join(dir, 'run') } });
    const log = pino({ level: 'silent' });
    peapod = openPeapod(config, log, { owner: 'cri' });
    ctx = { config, log, version: 'test', peapod, sandboxes: peapod.sandboxes, containers: peapod.containers, retries: new RetryStore(), network: { podCidr: '' }, streaming: undefined as never, events: new LifecycleEvents() };
  });

  after(async () => {
    for (const p of ctx.sandboxes.list()) await removePodSandbox(ctx)({ pod_sandbox_id: p.id });
    peapod.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands the finished sandbox to a retry that arrives after the first call finished, its caller gone (issue 12 item 16)', async () => {
    const first = call();
    // The first call finishes before the server has seen its caller give up
    // (on a loaded machine the deadline's cancellation is processed late).
    const { pod_sandbox_id: id } = await runPodSandbox(ctx)({ config: hostPod('late'), runtime_handler: '' }, first);
    first.cancel();
    const retry = await runPodSandbox(ctx)({ config: hostPod('late'), runtime_handler: '' }, call());
    expect(retry.pod_sandbox_id).to.equal(id);
    // Handed over once: a third call with the same config is a duplicate.
    const third = await runPodSandbox(ctx)({ config: hostPod('late'), runtime_handler: '' }, call()).then(
      () => null,
      (e: unknown) => e,
    );
    expect((third as { code?: string } | null)?.code).to.equal('ALREADY_EXISTS');
  });

  it('answers ALREADY_EXISTS to a duplicate whose first caller got its answer', async () => {
    const first = call();
    await runPodSandbox(ctx)({ config: hostPod('dup'), runtime_handler: '' }, first);
    const again = await runPodSandbox(ctx)({ config: hostPod('dup'), runtime_handler: '' }, call()).then(
      () => null,
      (e: unknown) => e,
    );
    expect((again as { code?: string } | null)?.code).to.equal('ALREADY_EXISTS');
  });
});
