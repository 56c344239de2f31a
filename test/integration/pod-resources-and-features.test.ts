import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { rpcError, waitFor } from './helpers/wait';

const readCgroup = (controller: string, cgroup: string, file: string): string => fs.readFileSync(path.join('/sys/fs/cgroup', controller, cgroup, file), 'utf8').trim();

describe('Status runtime handlers, UpdatePodSandboxResources and recursive read-only mounts (real runc, cgroups)', function () {
  this.timeout(120_000);
  let network: TestCniNetwork;
  let registry: TestRegistry;
  let server: TestServer;
  let image: string;
  let dir: string;
  let podId: string;
  let podConfig: PodSandboxConfig;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-podres-'));
    network = makeTestCniNetwork();
    registry = await startRegistry();
    await pushImage(registry.url, 'test/busybox', 'v1', await busyboxImage());
    image = `${registry.host}/test/busybox:v1`;
    server = await startServer({ config: network.configToml });
    await server.client.image.PullImage({ image: { image } });
    podConfig = {
      metadata: { name: 'resize', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: path.join(dir, 'logs'),
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    podId = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
  });

  after(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    network?.cleanup();
    if (dir) {
      for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
        const mp = line.split(' ')[4];
        if (mp?.startsWith(dir + '/')) execFileSync('umount', ['-l', mp]);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Status lists runc and the default handler "" with recursive read-only mounts and without user namespaces; verbose info as containerd fills it', async () => {
    const s = await server.client.runtime.Status({});
    expect(s.runtime_handlers).to.deep.equal([
      { name: 'runc', features: { recursive_read_only_mounts: true, user_namespaces: false } },
      { name: '', features: { recursive_read_only_mounts: true, user_namespaces: false } },
    ]);
    expect(s.features).to.deep.equal({ supplemental_groups_policy: false, user_namespaces_host_network: false, mount_options: false });
    expect(s.info).to.deep.equal({});
    const v = await server.client.runtime.Status({ verbose: true });
    expect(v.info!.lastCNILoadStatus).to.equal('OK');
    expect(JSON.parse(v.info!.cniconfig).name).to.equal(network.name);
    expect(JSON.parse(v.info!.node)).to.equal(process.version);
    const handlers = JSON.parse(v.info!.runtimeHandlers);
    expect(handlers.runc.runtimePath).to.equal('/usr/sbin/runc');
    expect(handlers.runc.features.mountOptions).to.include('rro');
  });

  it('UpdatePodSandboxResources writes resources plus overhead into the pod cgroup', async () => {
    const cgroup = `/peapod/pod-${podId}`;
    await server.client.runtime.UpdatePodSandboxResources({
      pod_sandbox_id: podId,
      resources: { memory_limit_in_bytes: String(200 << 20), cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000' },
      overhead: { memory_limit_in_bytes: String(56 << 20), cpu_shares: '100', cpu_quota: '10000', cpu_period: '100000' },
    });
    expect(readCgroup('memory', cgroup, 'memory.limit_in_bytes')).to.equal(String(256 << 20));
    expect(readCgroup('cpu', cgroup, 'cpu.shares')).to.equal('612');
    expect(readCgroup('cpu', cgroup, 'cpu.cfs_quota_us')).to.equal('60000');
    expect(readCgroup('cpu', cgroup, 'cpu.cfs_period_us')).to.equal('100000');
    // Resized again: the new values replace the old.
    await server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId, resources: { memory_limit_in_bytes: String(300 << 20), cpu_quota: '-1' } });
    expect(readCgroup('memory', cgroup, 'memory.limit_in_bytes')).to.equal(String(300 << 20));
    expect(readCgroup('cpu', cgroup, 'cpu.cfs_quota_us')).to.equal('-1');
    // An empty request changes nothing.
    await server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId });
    expect(readCgroup('memory', cgroup, 'memory.limit_in_bytes')).to.equal(String(300 << 20));
  });

  it('UpdatePodSandboxResources that the kernel refuses part-way leaves every limit as it was (the files written first are restored)', async () => {
    const cgroup = `/peapod/pod-${podId}`;
    const before = { shares: readCgroup('cpu', cgroup, 'cpu.shares'), quota: readCgroup('cpu', cgroup, 'cpu.cfs_quota_us'), memory: readCgroup('memory', cgroup, 'memory.limit_in_bytes'), cpus: readCgroup('cpuset', cgroup, 'cpuset.cpus') };
    // The cpu hierarchy is written before the cpuset one, which refuses CPUs this machine lacks.
    const e = await rpcError(
      server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId, resources: { cpu_shares: '777', cpu_quota: '30000', cpu_period: '100000', memory_limit_in_bytes: String(123 << 20), cpuset_cpus: '0-1023' } }),
    );
    expect(e.code, e.details).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(e.details).to.contain('cpuset.cpus');
    expect(readCgroup('cpu', cgroup, 'cpu.shares')).to.equal(before.shares);
    expect(readCgroup('cpu', cgroup, 'cpu.cfs_quota_us')).to.equal(before.quota);
    expect(readCgroup('memory', cgroup, 'memory.limit_in_bytes')).to.equal(before.memory);
    expect(readCgroup('cpuset', cgroup, 'cpuset.cpus')).to.equal(before.cpus);
  });

  it('UpdatePodSandboxResources refuses bad values naming the CRI field, an unknown pod as NOT_FOUND', async () => {
    let e = await rpcError(server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId, resources: { cpu_shares: '1' } }));
    expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(e.details).to.match(/^resources\.cpu_shares: /);
    e = await rpcError(server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId, overhead: { memory_limit_in_bytes: '-5' } }));
    expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(e.details).to.match(/^overhead\.memory_limit_in_bytes: /);
    e = await rpcError(server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: podId, resources: { hugepage_limits: [{ page_size: '2M', limit: '1' }] } }));
    expect(e.details).to.match(/^resources\.hugepage_limits\[0\]\.page_size: /);
    e = await rpcError(server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: 'no-such-pod' }));
    expect(e.code).to.equal(grpc.status.NOT_FOUND);
    e = await rpcError(server.client.runtime.UpdatePodSandboxResources({ pod_sandbox_id: '' }));
    expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
  });

  it('a recursive read-only mount makes its submounts read-only too; a plain read-only one does not', async () => {
    const host = path.join(dir, 'data');
    fs.mkdirSync(path.join(host, 'sub'), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'peapod-rro-test', path.join(host, 'sub')]);
    const run = async (name: string, rro: boolean): Promise<string> => {
      const config: ContainerConfig = {
        metadata: { name, attempt: 0 },
        image: { image },
        command: ['/bin/sh', '-c', 'if echo x > /data/sub/f 2>/dev/null; then echo sub-writable; else echo sub-readonly; fi'],
        log_path: `${name}.log`,
        mounts: [{ container_path: '/data', host_path: host, readonly: true, recursive_read_only: rro }],
      };
      const { container_id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config, sandbox_config: podConfig });
      await server.client.runtime.StartContainer({ container_id });
      await waitFor(async () => (await server.client.runtime.ContainerStatus({ container_id })).status?.state === 'CONTAINER_EXITED', 20_000, `${name} exited`);
      return fs.readFileSync(path.join(podConfig.log_directory!, `${name}.log`), 'utf8');
    };
    expect(await run('rro', true)).to.contain('sub-readonly');
    expect(await run('ro', false)).to.contain('sub-writable');
    const e = await rpcError(
      server.client.runtime.CreateContainer({
        pod_sandbox_id: podId,
        config: { metadata: { name: 'rro-rw', attempt: 0 }, image: { image }, command: ['true'], mounts: [{ container_path: '/data', host_path: host, readonly: false, recursive_read_only: true }] },
        sandbox_config: podConfig,
      }),
    );
    expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(e.details).to.match(/^config\.mounts\[0\]\.recursive_read_only: .*must be read-only/);
  });
});
