import { expect } from 'chai';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { removeAllPods } from './harness/client';
import { startServer, TestServer } from './harness/server';

function podConfig(name: string): PodSandboxConfig {
  return {
    metadata: { name, namespace: 'peapod-recovery', uid: randomBytes(8).toString('hex'), attempt: 0 },
    hostname: name,
    labels: { app: name },
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

const mountsUnder = (dir: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir + '/'));

describe('pod sandbox recovery after a crash', function () {
  this.timeout(120_000);
  let network: TestCniNetwork;
  let server: TestServer | undefined;

  afterEach(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
      server = undefined;
    }
    network?.cleanup();
  });

  it('marks a sandbox whose namespace is gone NOTREADY, rolls back a half-built one, and still removes both cleanly', async () => {
    network = makeTestCniNetwork();
    server = await startServer({ config: network.configToml });
    const id = (await server.client.runtime.RunPodSandbox({ config: podConfig('lost') })).pod_sandbox_id;
    const ip = (await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!.network!.ip;
    await server.kill();
    server.client.close();

    // The netns vanishes while peapod-cri is down (as after a reboot emptied the runroot).
    const runDir = path.join(server.runroot, 'sandboxes', id);
    execFileSync('umount', [path.join(runDir, 'netns')]);

    // A RunPodSandbox cut short by the crash: record still "creating", pins and shm made.
    const halfId = randomBytes(32).toString('hex');
    const halfState = path.join(server.root, 'sandboxes', halfId);
    const halfRun = path.join(server.runroot, 'sandboxes', halfId);
    fs.mkdirSync(halfState, { recursive: true });
    fs.mkdirSync(path.join(halfRun, 'shm'), { recursive: true });
    // Its record as a crash leaves it: still creating, its creator dead (a pid above pid_max).
    const db = new Database(path.join(server.root, 'state.db'));
    const row = db.prepare('SELECT * FROM pods WHERE id = ?').get(id) as { record: string; uid: string; attempt: number; created_at: string };
    const half = JSON.parse(row.record.split(id).join(halfId));
    half.state = 'creating';
    half.metadata.name = 'half';
    delete half.ip;
    db.prepare("INSERT INTO pods (id, name, namespace, uid, attempt, state, owner, creator_pid, creator_start, created_at, record) VALUES (?, 'half', 'peapod-recovery', ?, ?, 'creating', 'cri', 2147483647, '1', ?, ?)").run(
      halfId,
      row.uid,
      row.attempt,
      row.created_at,
      JSON.stringify(half),
    );
    db.close();
    for (const f of ['netns', 'ipcns', 'utsns']) fs.writeFileSync(path.join(halfRun, f), '');
    execFileSync('unshare', [`--net=${halfRun}/netns`, `--ipc=${halfRun}/ipcns`, `--uts=${halfRun}/utsns`, 'true']);
    execFileSync('mount', ['-t', 'tmpfs', 'shm', path.join(halfRun, 'shm')]);
    expect(mountsUnder(halfRun)).to.have.length(4);

    server = await startServer({ dir: server.dir, config: network.configToml });
    const status = (await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!;
    expect(status.state).to.equal('SANDBOX_NOTREADY');
    expect(status.network!.ip).to.equal(ip);
    expect(mountsUnder(halfRun)).to.deep.equal([]);
    expect(fs.existsSync(halfRun)).to.equal(false);
    expect(fs.existsSync(halfState)).to.equal(false);
    const { items } = await server.client.runtime.ListPodSandbox({});
    expect(items.map((p) => p.id)).to.deep.equal([id]);

    // Stop runs CNI DEL without the namespace; the IP lease is released.
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    const leases = fs.readdirSync(path.join(path.dirname(network.confDir), 'ipam', network.name));
    expect(leases).to.not.include(ip);
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    expect(mountsUnder(runDir)).to.deep.equal([]);
    expect(fs.existsSync(runDir)).to.equal(false);
  });

  it('reports both IPs of a dual-stack pod, IPv4 first', async () => {
    // A group without a leading zero: an address prints its groups without one (2001:db8:be3::2).
    const v6 = `2001:db8:${(0x1000 + (randomBytes(2).readUInt16BE() % 0xf000)).toString(16)}::/64`;
    network = makeTestCniNetwork({ ipv6Subnet: v6 });
    server = await startServer({ config: network.configToml });
    const id = (await server.client.runtime.RunPodSandbox({ config: podConfig('dual') })).pod_sandbox_id;
    const net = (await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!.network!;
    expect(net.ip).to.match(/^198\.1[89]\./);
    expect(net.additional_ips).to.have.length(1);
    expect(net.additional_ips[0].ip.startsWith(v6.replace('::/64', ':'))).to.equal(true, net.additional_ips[0].ip);
    const hosts = fs.readFileSync(path.join(server.root, 'sandboxes', id, 'hosts'), 'utf8');
    expect(hosts).to.contain(`${net.ip}\tdual\n${net.additional_ips[0].ip}\tdual\n`);
  });

  it('turns NetworkReady true when a CNI config appears later, and refuses pod-network pods until then', async () => {
    network = makeTestCniNetwork();
    const conflist = fs.readdirSync(network.confDir)[0];
    const saved = fs.readFileSync(path.join(network.confDir, conflist));
    fs.rmSync(path.join(network.confDir, conflist));
    server = await startServer({ config: network.configToml });
    const cond = async () => (await server!.client.runtime.Status({})).status!.conditions.find((c) => c.type === 'NetworkReady')!;
    const before = await cond();
    expect(before.status).to.equal(false);
    expect(before.reason).to.equal('NetworkPluginNotReady');
    const err = await server.client.runtime.RunPodSandbox({ config: podConfig('early') }).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).to.equal(grpc.status.FAILED_PRECONDITION);
    const sandboxesDir = path.join(server.root, 'sandboxes');
    expect(fs.existsSync(sandboxesDir) ? fs.readdirSync(sandboxesDir) : []).to.deep.equal([]);

    // A config naming a plugin no bin dir has is not ready either.
    fs.writeFileSync(path.join(network.confDir, '05-missing.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'missing', plugins: [{ type: 'peapod-absent-plugin' }] }));
    const missing = await cond();
    expect(missing.status).to.equal(false);
    expect(missing.message).to.contain('peapod-absent-plugin');
    fs.rmSync(path.join(network.confDir, '05-missing.conflist'));

    fs.writeFileSync(path.join(network.confDir, conflist), saved);
    expect((await cond()).status).to.equal(true);
    const id = (await server.client.runtime.RunPodSandbox({ config: podConfig('late') })).pod_sandbox_id;
    expect((await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!.network!.ip).to.match(/^198\.1[89]\./);
  });
});
