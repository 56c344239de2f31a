import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { joinLogLines } from '../../src/runtime-service/container/logs';
import { processCgroups } from '../../src/runtime-service/container/stats';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { spdyConnect, spdyRemoteCommand } from '../support/spdy-client';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestCniNetwork } from './harness/cni-net';
import type { TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { until } from './helpers/wait';

async function rpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: grpc.ServiceError) => e,
  );
}

describe('containers over CRI (real runc, conmon, CNI, registry)', function () {
  this.timeout(120_000);
  let network: TestCniNetwork;
  let registry: TestRegistry;
  let server: TestServer;
  let image: string;
  let stopSigImage: string;
  let podId: string;
  let podConfig: PodSandboxConfig;
  /** Parent of the pods' log directories, removed after the suite. */
  let LOG_ROOT = '';
  let stack: CriStack | undefined;
  const config = (): string => `${network.configToml}`;

  function newPodConfig(name: string): PodSandboxConfig {
    return {
      metadata: { name, namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      hostname: name,
      log_directory: path.join(LOG_ROOT, `${name}-${randomBytes(3).toString('hex')}`),
      labels: { app: name },
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
  }

  function ctr(name: string, script: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
    return {
      metadata: { name, attempt: 0 },
      image: { image },
      command: ['/bin/sh', '-c', script],
      log_path: `${name}/0.log`,
      labels: { c: name },
      ...extra,
    };
  }

  async function run(name: string, script: string, extra: Partial<ContainerConfig> = {}, pod = podId, pc = podConfig): Promise<string> {
    const { container_id } = await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr(name, script, extra), sandbox_config: pc });
    await server.client.runtime.StartContainer({ container_id });
    return container_id;
  }

  async function status(id: string) {
    return (await server.client.runtime.ContainerStatus({ container_id: id })).status!;
  }

  async function waitExited(id: string, ms = 20000): Promise<void> {
    expect(await until(async () => (await status(id)).state === 'CONTAINER_EXITED', ms), `container ${id} exited`).to.equal(true);
  }

  async function logLines(id: string): Promise<{ stream: string; line: string }[]> {
    return joinLogLines(fs.readFileSync((await status(id)).log_path!, 'utf8'));
  }

  before(async () => {
    ({ network, registry, server, image, logRoot: LOG_ROOT } = stack = await startCriStack({ logPrefix: 'peapod-ctr-logs-', imageConfig: { Env: ['FROM_IMAGE=yes'] }, pull: true }));
    await pushImage(registry.url, 'test/busybox-app', 'v1', await busyboxImage({ User: 'app', StopSignal: 'SIGUSR1' }));
    stopSigImage = `${registry.host}/test/busybox-app:v1`;
    await server.client.image.PullImage({ image: { image: stopSigImage } });
    podConfig = newPodConfig('ctrs');
    podId = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
  });

  after(async () => {
    await stack?.stop();
  });

  it('creates, starts, reports, lists, stops and removes a container; Stop and Remove are idempotent', async () => {
    const id = await run('life', 'trap "exit 0" TERM; echo "$FROM_IMAGE"; while true; do sleep 0.1; done');
    let st = await status(id);
    expect(st.state).to.equal('CONTAINER_RUNNING');
    expect(st.image_ref).to.match(/@sha256:|^sha256:/);
    expect(st.log_path).to.equal(path.join(podConfig.log_directory!, 'life/0.log'));
    expect(BigInt(st.started_at!) >= BigInt(st.created_at!)).to.equal(true);
    const verbose = await server.client.runtime.ContainerStatus({ container_id: id, verbose: true });
    const info = JSON.parse(verbose.info!.info) as { pid: number; runtimeSpec: { process: { args: string[] } } };
    expect(info.pid).to.be.greaterThan(0);
    expect(info.runtimeSpec.process.args.slice(0, 2)).to.deep.equal(['/bin/sh', '-c']);

    const byPrefix = await server.client.runtime.ListContainers({ filter: { id: id.slice(0, 10) } });
    expect(byPrefix.containers.map((c) => c.id)).to.deep.equal([id]);
    const running = await server.client.runtime.ListContainers({ filter: { state: { state: 'CONTAINER_RUNNING' }, pod_sandbox_id: podId, label_selector: { c: 'life' } } });
    expect(running.containers.map((c) => c.id)).to.deep.equal([id]);
    const none = await server.client.runtime.ListContainers({ filter: { label_selector: { c: 'nope' } } });
    expect(none.containers).to.have.length(0);

    await server.client.runtime.StopContainer({ container_id: id, timeout: 10 });
    st = await status(id);
    expect(st.state).to.equal('CONTAINER_EXITED');
    expect(st.exit_code).to.equal(0);
    expect(st.reason).to.equal('Completed');
    await server.client.runtime.StopContainer({ container_id: id, timeout: 10 });
    expect((await logLines(id))[0]).to.deep.equal({ stream: 'stdout', line: 'yes' });
    await server.client.runtime.RemoveContainer({ container_id: id });
    await server.client.runtime.RemoveContainer({ container_id: id });
    expect((await rpcError(server.client.runtime.ContainerStatus({ container_id: id }))).code).to.equal(grpc.status.NOT_FOUND);
  });

  it('logs a line over 16 KiB whole, stdout and stderr apart, a last line without newline; exit code and reason', async () => {
    const id = await run('logs', 'head -c 20000 /dev/zero | tr "\\0" y; echo; echo to-err >&2; printf no-newline; exit 4');
    await waitExited(id);
    const st = await status(id);
    expect(st.exit_code).to.equal(4);
    expect(st.reason).to.equal('Error');
    expect(BigInt(st.finished_at!) >= BigInt(st.started_at!)).to.equal(true);
    const lines = await logLines(id);
    expect(lines).to.deep.include({ stream: 'stdout', line: 'y'.repeat(20000) });
    expect(lines).to.deep.include({ stream: 'stderr', line: 'to-err' });
    expect(lines).to.deep.include({ stream: 'stdout', line: 'no-newline' });
    const raw = fs.readFileSync(st.log_path!, 'utf8').split('\n')[0];
    expect(raw).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) stdout [PF] /);
  });

  it('rejects an unknown sandbox or image, a duplicate name, and a stopped sandbox', async () => {
    expect((await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: 'f'.repeat(64), config: ctr('x', 'true') }))).code).to.equal(grpc.status.NOT_FOUND);
    const badImage = { ...ctr('x', 'true'), image: { image: `${registry.host}/test/none:v1` } };
    expect((await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: badImage }))).code).to.equal(grpc.status.NOT_FOUND);
    const id = await run('dupname', 'sleep 300');
    expect((await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: ctr('dupname', 'true') }))).code).to.equal(grpc.status.ALREADY_EXISTS);
    await server.client.runtime.RemoveContainer({ container_id: id });
    const pc = newPodConfig('stopped');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: pod });
    expect((await rpcError(server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('x', 'true') }))).code).to.equal(grpc.status.FAILED_PRECONDITION);
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
  });

  it('stops a process ignoring SIGTERM after the timeout, at once with timeout 0, with the image StopSignal', async () => {
    const id = await run('stubborn', "trap '' TERM; while true; do sleep 1; done");
    const t0 = Date.now();
    await server.client.runtime.StopContainer({ container_id: id, timeout: 2 });
    // The grace period was given (only a lower bound: how long the kill then takes depends on the machine's load).
    expect(Date.now() - t0).to.be.at.least(1900);
    expect((await status(id)).exit_code).to.equal(137);
    // Timeout 0 kills at once: a process that would exit 0 on SIGTERM is never sent one.
    const id0 = await run('polite0', "trap 'exit 0' TERM; while true; do sleep 0.1; done");
    await server.client.runtime.StopContainer({ container_id: id0, timeout: 0 });
    expect((await status(id0)).exit_code).to.equal(137);
    // The image's StopSignal (SIGUSR1) is sent first; the script exits 7 on it.
    const { container_id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { ...ctr('usr1', "trap 'exit 7' USR1; echo trapped; while true; do sleep 0.1; done"), image: { image: stopSigImage } },
    });
    await server.client.runtime.StartContainer({ container_id });
    // The trap is set once the script said so.
    expect(await until(async () => (await logLines(container_id)).some((l) => l.line === 'trapped'), 30_000)).to.equal(true);
    await server.client.runtime.StopContainer({ container_id, timeout: 10 });
    expect((await status(container_id)).exit_code).to.equal(7);
  });

  it('ExecSync: output, stderr apart, exit code, timeout as DEADLINE_EXCEEDED, 16 MiB cap, background holder', async () => {
    const id = await run('exec', 'sleep 300');
    const r = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], timeout: 10 });
    expect(Buffer.from(r.stdout).toString()).to.equal('out\n');
    expect(Buffer.from(r.stderr).toString()).to.equal('err\n');
    expect(r.exit_code).to.equal(3);
    const t0 = Date.now();
    const slow = await server.client.runtime.ExecSync({ container_id: id, cmd: ['sleep', '60'], timeout: 1 }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(Date.now() - t0).to.be.below(5000);
    // As containerd answers: DEADLINE_EXCEEDED, which the kubelet takes for a timed-out probe.
    expect(slow?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    expect(slow?.details).to.contain('timed out');
    // The timed-out command goes with all its children (critest: "timeout exec process should be gone").
    const shell = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'sleep 4321 & sleep 4322; echo never'], timeout: 1 }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(shell?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    const left = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'ps | grep -c "[s]leep 4321" || true'], timeout: 10 });
    expect(Buffer.from(left.stdout).toString().trim()).to.equal('0');
    const t1 = Date.now();
    const bg = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'sleep 60 & echo bg'], timeout: 5 });
    expect(Date.now() - t1).to.be.below(4000);
    expect(Buffer.from(bg.stdout).toString()).to.equal('bg\n');
    const big = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'echo e >&2; head -c 17000000 /dev/zero | tr "\\0" z'], timeout: 30 });
    // Cut so that the whole response fits in the kubelet's 16 MiB message limit.
    expect(big.stdout.length).to.be.within((16 << 20) - 4096, 16 << 20);
    expect(Buffer.from(big.stderr).toString()).to.equal('e\n');
    expect(big.exit_code).to.equal(0);
    await server.client.runtime.RemoveContainer({ container_id: id });
  });

  it('Exec and Attach through the streaming server: stdin, stdout, stderr, exit code, tty with resize', async () => {
    const id = await run('streamer', 'sleep 300');
    let url = (await server.client.runtime.Exec({ container_id: id, cmd: ['/bin/sh', '-c', 'cat; echo to-err >&2; exit 3'], stdin: true, stdout: true, stderr: true })).url;
    let r = await spdyRemoteCommand(url, { stdin: 'typed in', stderr: true });
    expect(r.stdout).to.equal('typed in');
    expect(r.stderr).to.equal('to-err\n');
    const failure = JSON.parse(r.error) as { reason: string; details: { causes: { message: string }[] } };
    expect(failure.reason).to.equal('NonZeroExitCode');
    expect(failure.details.causes[0].message).to.equal('3');

    url = (await server.client.runtime.Exec({ container_id: id, cmd: ['/bin/sh', '-c', 'sleep 1; stty size; tty'], tty: true, stdout: true })).url;
    r = await spdyRemoteCommand(url, { tty: true, resizes: [{ width: 123, height: 45 }] });
    expect(r.stdout).to.match(/^45 123\r?\n/);
    expect(r.stdout).to.match(/\/dev\/pts\/\d+/);

    const { container_id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { ...ctr('attached', 'read line; echo got:$line; echo err:$line >&2'), stdin: true, stdin_once: true },
    });
    await server.client.runtime.StartContainer({ container_id });
    url = (await server.client.runtime.Attach({ container_id, stdin: true, stdout: true, stderr: true })).url;
    r = await spdyRemoteCommand(url, { stdin: 'abc\n', stderr: true });
    expect(r.stdout).to.equal('got:abc\n');
    expect(r.stderr).to.equal('err:abc\n');
    await waitExited(container_id);

    // stdin_once false: the container's stdin outlives an attach client.
    const keep = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { ...ctr('reattach', 'while read line; do echo got:$line; done; echo stdin-closed'), stdin: true, stdin_once: false },
    });
    await server.client.runtime.StartContainer({ container_id: keep.container_id });
    // Each client sends a line, reads the answer and leaves (closing its stdin and the connection).
    const attachOnce = async (line: string): Promise<string> => {
      const attachUrl = (await server.client.runtime.Attach({ container_id: keep.container_id, stdin: true, stdout: true })).url;
      const conn = await spdyConnect(attachUrl, ['v4.channel.k8s.io']);
      if (!conn.ok) throw new Error(`upgrade refused: ${conn.status}`);
      await conn.session.createStream({ streamtype: ['error'] });
      const stdin = await conn.session.createStream({ streamtype: ['stdin'] });
      const stdout = await conn.session.createStream({ streamtype: ['stdout'] });
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      stdin.resume();
      stdin.end(line);
      for (let i = 0; i < 100 && !out.includes('\n'); i++) await new Promise((res) => setTimeout(res, 50));
      conn.session.destroy();
      return out;
    };
    expect(await attachOnce('one\n')).to.equal('got:one\n');
    expect(await attachOnce('two\n')).to.equal('got:two\n');
    expect((await status(keep.container_id)).state).to.equal('CONTAINER_RUNNING');
    await server.client.runtime.RemoveContainer({ container_id: keep.container_id });
    await server.client.runtime.RemoveContainer({ container_id: id });
  });

  it('runs as the image user, with readonly rootfs, capabilities, the default seccomp profile and a readonly mount', async () => {
    const host = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-mnt-'));
    fs.chmodSync(host, 0o755);
    fs.writeFileSync(path.join(host, 'f'), 'hostfile', { mode: 0o644 });
    try {
      const script = 'id -u; touch /x 2>/dev/null && echo rw-root || echo ro-root; grep CapBnd /proc/self/status; unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-blocked; cat /m/f; echo; touch /m/g 2>/dev/null && echo rw-mount || echo ro-mount';
      const { container_id } = await server.client.runtime.CreateContainer({
        pod_sandbox_id: podId,
        config: {
          ...ctr('secure', script),
          image: { image: stopSigImage },
          mounts: [{ container_path: '/m', host_path: host, readonly: true }],
          linux: {
            security_context: {
              readonly_rootfs: true,
              capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['CHOWN'] },
              seccomp: { profile_type: 'RuntimeDefault' },
            },
          },
        },
      });
      await server.client.runtime.StartContainer({ container_id });
      await waitExited(container_id);
      const out = (await logLines(container_id)).map((l) => l.line);
      expect(out[0]).to.equal('1000');
      expect(out[1]).to.equal('ro-root');
      expect(BigInt(`0x${out[2].split(/\s+/)[1]}`)).to.equal(1n); // CAP_CHOWN only
      expect(out[3]).to.equal('unshare-blocked');
      expect(out[4]).to.equal('hostfile');
      expect(out[5]).to.equal('ro-mount');
      const st = await status(container_id);
      expect(st.mounts!.map((m) => [m.container_path, m.readonly])).to.deep.equal([['/m', true]]);
      expect(st.user!.linux!.uid).to.equal('1000');
      expect(st.user!.linux!.gid).to.equal('1000');
    } finally {
      fs.rmSync(host, { recursive: true, force: true });
    }
  });

  it('reports OOMKilled under a small memory limit', async () => {
    const id = await run('oom', 'tail /dev/zero', { linux: { resources: { memory_limit_in_bytes: 16 << 20 } } });
    await waitExited(id);
    const st = await status(id);
    expect(st.reason).to.equal('OOMKilled');
    expect(st.exit_code).to.equal(137);
  });

  it('UpdateContainerResources changes the cgroup; container and pod stats are non-zero', async () => {
    const id = await run('stats', 'while true; do echo x > /tmp/f; sleep 0.2; done', { linux: { resources: { memory_limit_in_bytes: 64 << 20, cpu_shares: 256 } } });
    const info = JSON.parse((await server.client.runtime.ContainerStatus({ container_id: id, verbose: true })).info!.info) as { pid: number };
    const cg = processCgroups(info.pid);
    const memLimit = path.join('/sys/fs/cgroup/memory', cg.get('memory')!, 'memory.limit_in_bytes');
    expect(fs.readFileSync(memLimit, 'utf8').trim()).to.equal(String(64 << 20));
    await server.client.runtime.UpdateContainerResources({ container_id: id, linux: { memory_limit_in_bytes: 128 << 20, cpu_shares: 512, cpu_quota: 50000, cpu_period: 100000 } });
    expect(fs.readFileSync(memLimit, 'utf8').trim()).to.equal(String(128 << 20));
    const cpuDir = path.join('/sys/fs/cgroup/cpu', cg.get('cpu')!);
    expect(fs.readFileSync(path.join(cpuDir, 'cpu.shares'), 'utf8').trim()).to.equal('512');
    expect(fs.readFileSync(path.join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()).to.equal('50000');
    expect(Number((await status(id)).resources!.linux!.memory_limit_in_bytes)).to.equal(128 << 20);

    await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'head -c 500000 /dev/urandom > /tmp/blob'], timeout: 10 });
    // The writable layer is measured in the background (as containerd does): the first ask starts it.
    const measured = async (): Promise<boolean> => Number((await server.client.runtime.ContainerStats({ container_id: id })).stats!.writable_layer!.used_bytes!.value) > 400000;
    expect(await until(measured, 30_000), 'writable layer measured').to.equal(true);
    const s = (await server.client.runtime.ContainerStats({ container_id: id })).stats!;
    expect(Number(s.cpu!.usage_core_nano_seconds!.value)).to.be.greaterThan(0);
    expect(Number(s.memory!.working_set_bytes!.value)).to.be.greaterThan(0);
    expect(Number(s.writable_layer!.used_bytes!.value)).to.be.greaterThan(400000);
    expect(Number(s.writable_layer!.inodes_used!.value)).to.be.greaterThan(0);
    const list = await server.client.runtime.ListContainerStats({ filter: { id } });
    expect(list.stats.map((x) => x.attributes!.id)).to.deep.equal([id]);

    const ps = (await server.client.runtime.PodSandboxStats({ pod_sandbox_id: podId })).stats!;
    expect(ps.attributes!.id).to.equal(podId);
    expect(Number(ps.linux!.cpu!.usage_core_nano_seconds!.value)).to.be.greaterThan(0);
    expect(ps.linux!.containers!.map((c) => c.attributes!.id)).to.include(id);
    expect(ps.linux!.network!.interfaces!.map((i) => i.name)).to.include('eth0');
    const all = await server.client.runtime.ListPodSandboxStats({ filter: { id: podId } });
    expect(all.stats).to.have.length(1);
    await server.client.runtime.RemoveContainer({ container_id: id });
  });

  it('ReopenContainerLog makes a fresh file after the kubelet renamed the old one', async () => {
    const id = await run('rotate', 'i=0; while true; do echo n$i; i=$((i+1)); sleep 0.1; done');
    const log = (await status(id)).log_path!;
    expect(await until(() => fs.existsSync(log) && fs.statSync(log).size > 0, 30_000)).to.equal(true);
    fs.renameSync(log, `${log}.20260101-000000`);
    await server.client.runtime.ReopenContainerLog({ container_id: id });
    expect(fs.existsSync(log)).to.equal(true);
    expect(await until(() => fs.statSync(log).size > 0, 30_000)).to.equal(true);
    await server.client.runtime.RemoveContainer({ container_id: id });
  });

  it('survives a SIGKILL of peapod-cri: running containers keep running, exits meanwhile are recorded, logs go on', async () => {
    const keep = await run('keep', 'while true; do echo tick; sleep 0.2; done');
    const ends = await run('ends', 'sleep 1; exit 9');
    await server.kill();
    // While peapod-cri is down, `ends` exits: conmon writes its exit file.
    expect(await until(() => fs.existsSync(path.join(server.runroot, 'containers-exits', ends)), 30_000), 'the exit file of ends').to.equal(true);
    server = await startServer({ config: config(), dir: server.dir });
    const k = await status(keep);
    expect(k.state).to.equal('CONTAINER_RUNNING');
    const e = await status(ends);
    expect(e.state).to.equal('CONTAINER_EXITED');
    expect(e.exit_code).to.equal(9);
    expect(BigInt(e.finished_at!) > BigInt(e.started_at!)).to.equal(true);
    const size = fs.statSync(k.log_path!).size;
    expect(await until(() => fs.statSync(k.log_path!).size > size, 30_000)).to.equal(true);
    const r = await server.client.runtime.ExecSync({ container_id: keep, cmd: ['echo', 'alive'], timeout: 5 });
    expect(Buffer.from(r.stdout).toString()).to.equal('alive\n');
  });

  it('StopPodSandbox stops the pod containers and RemovePodSandbox removes them', async () => {
    const pc = newPodConfig('podstop');
    const pod = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const id = await run('inpod', 'sleep 300', {}, pod, pc);
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: pod });
    expect((await status(id)).state).to.equal('CONTAINER_EXITED');
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
    expect((await server.client.runtime.ListContainers({ filter: { pod_sandbox_id: pod } })).containers).to.have.length(0);
    expect((await rpcError(server.client.runtime.ContainerStatus({ container_id: id }))).code).to.equal(grpc.status.NOT_FOUND);
  });

  it('RemoveImage refuses an image a container uses (its layers are the lower dirs), and removes it once the container is gone', async () => {
    await pushImage(registry.url, 'test/held', 'v1', await busyboxImage({ Labels: { held: 'yes' } }));
    const held = `${registry.host}/test/held:v1`;
    await server.client.image.PullImage({ image: { image: held } });
    const id = await run('holds-image', 'exit 0', { image: { image: held } });
    await waitExited(id);
    const err = await rpcError(server.client.image.RemoveImage({ image: { image: held } }));
    expect(err.code).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(err.details).to.contain(id);
    expect((await server.client.image.ImageStatus({ image: { image: held } })).image).to.not.equal(null);
    await server.client.runtime.RemoveContainer({ container_id: id });
    await server.client.image.RemoveImage({ image: { image: held } });
    expect((await server.client.image.ImageStatus({ image: { image: held } })).image).to.equal(null);
  });
});
