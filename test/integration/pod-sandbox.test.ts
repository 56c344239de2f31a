import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { fetchTcp, fetchTcpFromNetns, listenInNetns, run } from './harness/netns-tools';
import { removeAllPods } from './harness/client';
import { startServer, TestServer } from './harness/server';

/** Parent of the pods' log directories (made by RunPodSandbox); made before the suite, removed after. */
let LOG_ROOT = '';

/** A pod config with a unique uid; `extra` is merged on top. */
function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  return {
    metadata: { name, namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
    hostname: name,
    log_directory: path.join(LOG_ROOT, name),
    labels: { app: name, suite: 'sandbox' },
    annotations: { 'peapod.test/note': 'yes' },
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    ...extra,
  };
}

async function rpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: grpc.ServiceError) => e,
  );
}

const runrootMounts = (runroot: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(runroot));

describe('pod sandboxes (real namespaces and CNI)', function () {
  this.timeout(120_000);
  let network: TestCniNetwork;
  let server: TestServer;
  const listeners: ChildProcess[] = [];
  const config = () => `${network.configToml}[sandbox]\nshm_size = 33554432\n`;

  const info = async (id: string) => {
    const s = await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id, verbose: true });
    return { status: s.status!, info: JSON.parse(s.info!.info) as { netnsPath: string; infraPid: number | null; cniResult: { ips: Array<{ address: string }> } | null; namespaces: Record<string, string> } };
  };
  const stateDir = (id: string) => path.join(server.root, 'sandboxes', id);

  before(async () => {
    LOG_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-test-logs-'));
    network = makeTestCniNetwork();
    server = await startServer({ config: config() });
  });
  afterEach(() => {
    for (const l of listeners.splice(0)) l.kill('SIGKILL');
  });
  after(async () => {
    for (const l of listeners.splice(0)) l.kill('SIGKILL');
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    network?.cleanup();
    if (LOG_ROOT) fs.rmSync(LOG_ROOT, { recursive: true, force: true });
  });

  it('reports NetworkReady from the test conf dir and the pod CIDR from UpdateRuntimeConfig', async () => {
    const st = await server.client.runtime.Status({});
    const net = st.status!.conditions.find((c) => c.type === 'NetworkReady');
    expect(net?.status).to.equal(true);
    await server.client.runtime.UpdateRuntimeConfig({ runtime_config: { network_config: { pod_cidr: network.subnet } } });
    const verbose = await server.client.runtime.Status({ verbose: true });
    expect(JSON.parse(verbose.info!.network)).to.deep.equal({ network: { name: network.name, file: path.join(network.confDir, '10-test.conflist') }, podCidr: network.subnet });
  });

  it('runs a pod with an IP reachable from the host, hostname, hosts, resolv.conf and /dev/shm', async () => {
    const cfg = podConfig('web', { dns_config: { servers: ['198.18.255.53'], searches: ['peapod-test.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] } });
    const { pod_sandbox_id: id } = await server.client.runtime.RunPodSandbox({ config: cfg });
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const { status, info: i } = await info(id);
    expect(status.state).to.equal('SANDBOX_READY');
    expect(status.metadata).to.deep.include({ name: 'web', namespace: 'peapod-test', uid: cfg.metadata!.uid, attempt: 0 });
    expect(status.labels).to.deep.equal(cfg.labels);
    expect(status.annotations).to.deep.equal(cfg.annotations);
    expect(status.runtime_handler).to.equal('runc');
    expect(fs.statSync(cfg.log_directory!).isDirectory()).to.equal(true);
    expect(BigInt(status.created_at) > BigInt(Date.now() - 60_000) * 1_000_000n).to.equal(true, status.created_at);
    const ip = status.network!.ip;
    expect(ip.startsWith(network.subnet.replace(/0\/24$/, ''))).to.equal(true, ip);
    expect(status.linux!.namespaces!.options).to.deep.include({ network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
    expect(i.cniResult!.ips[0].address).to.equal(`${ip}/24`);

    listeners.push(await listenInNetns(i.netnsPath, 8080, 'web'));
    expect(await fetchTcp(ip, 8080)).to.equal('hello web');

    expect(await run('nsenter', [`--uts=${i.namespaces.uts}`, 'hostname'])).to.equal('web');
    expect(await run('nsenter', [`--net=${i.netnsPath}`, 'ip', '-o', 'link', 'show', 'lo'])).to.match(/UP/);
    expect(fs.readFileSync(path.join(stateDir(id), 'hostname'), 'utf8')).to.equal('web\n');
    const hosts = fs.readFileSync(path.join(stateDir(id), 'hosts'), 'utf8');
    expect(hosts).to.match(/^127\.0\.0\.1\s+localhost$/m);
    expect(hosts).to.match(new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+web$`, 'm'));
    expect(fs.readFileSync(path.join(stateDir(id), 'resolv.conf'), 'utf8')).to.equal(
      'nameserver 198.18.255.53\nsearch peapod-test.svc.cluster.local svc.cluster.local\noptions ndots:5\n',
    );
    const shm = path.join(server.runroot, 'sandboxes', id, 'shm');
    const shmLine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === shm);
    expect(shmLine).to.match(/ - tmpfs /);
    expect(shmLine).to.match(/size=32768k/);
  });

  it('lets two pods reach each other and lists them with filters', async () => {
    const a = (await server.client.runtime.RunPodSandbox({ config: podConfig('alpha') })).pod_sandbox_id;
    const b = (await server.client.runtime.RunPodSandbox({ config: podConfig('beta') })).pod_sandbox_id;
    const ia = await info(a);
    const ib = await info(b);
    listeners.push(await listenInNetns(ib.info.netnsPath, 9090, 'beta'));
    expect(await fetchTcpFromNetns(ia.info.netnsPath, ib.status.network!.ip, 9090)).to.equal('hello beta');

    const byLabel = await server.client.runtime.ListPodSandbox({ filter: { label_selector: { app: 'alpha' } } });
    expect(byLabel.items.map((p) => p.id)).to.deep.equal([a]);
    const byPrefix = await server.client.runtime.ListPodSandbox({ filter: { id: b.slice(0, 12) } });
    expect(byPrefix.items.map((p) => p.id)).to.deep.equal([b]);
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: a });
    const notReady = await server.client.runtime.ListPodSandbox({ filter: { state: { state: 'SANDBOX_NOTREADY' } } });
    expect(notReady.items.map((p) => p.id)).to.deep.equal([a]);
    const ready = await server.client.runtime.ListPodSandbox({ filter: { state: { state: 'SANDBOX_READY' }, label_selector: { suite: 'sandbox' } } });
    expect(ready.items.map((p) => p.id)).to.include(b).and.not.include(a);
  });

  it('runs and removes pods concurrently, each with its own IP', async () => {
    const ids = await Promise.all([0, 1, 2, 3, 4, 5].map((n) => server.client.runtime.RunPodSandbox({ config: podConfig(`crowd-${n}`) }).then((r) => r.pod_sandbox_id)));
    const ips = await Promise.all(ids.map(async (id) => (await info(id)).status.network!.ip));
    expect(new Set(ips).size).to.equal(6);
    await Promise.all(ids.flatMap((id) => [server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id }), server.client.runtime.StopPodSandbox({ pod_sandbox_id: id })]));
    const { items } = await server.client.runtime.ListPodSandbox({});
    expect(items.filter((p) => ids.includes(p.id))).to.deep.equal([]);
    for (const id of ids) expect(fs.existsSync(path.join(server.runroot, 'sandboxes', id))).to.equal(false);
  });

  it('maps a host port to a pod port through portmap', async () => {
    const hostPort = randomInt(20000, 30000);
    const cfg = podConfig('ported', { port_mappings: [{ protocol: 'TCP', container_port: 8081, host_port: hostPort, host_ip: '' }] });
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { info: i } = await info(id);
    listeners.push(await listenInNetns(i.netnsPath, 8081, 'ported'));
    expect(await fetchTcp(network.gateway, hostPort)).to.equal('hello ported');
    expect(await fetchTcp('127.0.0.1', hostPort)).to.equal('hello ported');
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    const rules = await run('iptables-save', ['-t', 'nat']);
    expect(rules).to.not.contain(`--dport ${hostPort} `);
  });

  it('shapes traffic from the bandwidth annotations and removes the shaping on stop', async () => {
    const cfg = podConfig('shaped', { annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' } });
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { info: i } = await info(id);
    const result = i.cniResult as unknown as { interfaces: Array<{ name: string; sandbox?: string }> };
    const hostVeth = result.interfaces.find((x) => !x.sandbox && x.name !== network.bridge)!.name;
    expect(await run('tc', ['qdisc', 'show', 'dev', hostVeth])).to.match(/tbf .*rate 1Mbit/);
    const ifb = result.interfaces.find((x) => x.name.startsWith('bwp'));
    expect(ifb, 'the bandwidth plugin adds an ifb device for egress').to.not.equal(undefined);
    expect(await run('tc', ['qdisc', 'show', 'dev', ifb!.name])).to.match(/tbf .*rate 2Mbit/);
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    expect(await run('ip', ['-o', 'link', 'show']).then((o) => o.includes(`${ifb!.name}:`))).to.equal(false);
  });

  it('applies namespaced sysctls and refuses node-wide ones', async () => {
    const cfg = podConfig('tuned');
    cfg.linux!.sysctls = { 'net.ipv4.ip_unprivileged_port_start': '100', 'kernel.shm_rmid_forced': '1' };
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { info: i } = await info(id);
    expect(await run('nsenter', [`--net=${i.netnsPath}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).to.equal('100');
    expect(await run('nsenter', [`--ipc=${i.namespaces.ipc}`, 'cat', '/proc/sys/kernel/shm_rmid_forced'])).to.equal('1');

    const bad = podConfig('untuned');
    bad.linux!.sysctls = { 'kernel.pid_max': '100000' };
    const err = await rpcError(server.client.runtime.RunPodSandbox({ config: bad }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('kernel.pid_max');
  });

  it('shares one PID namespace through an infra process that survives until stop', async () => {
    const cfg = podConfig('shared-pid');
    cfg.linux!.security_context!.namespace_options!.pid = 'POD';
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { info: i } = await info(id);
    const pid = i.infraPid!;
    expect(pid).to.be.a('number');
    // Containers join the namespace pinned on a file, never /proc/<pid>/ns/pid (a pid outlives its process).
    expect(i.namespaces.pid).to.equal(path.join(server.runroot, 'sandboxes', id, 'pidns'));
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).to.equal(`pid:[${fs.statSync(i.namespaces.pid).ino}]`);
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).to.not.equal(fs.readlinkSync('/proc/self/ns/pid'));
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).to.match(new RegExp(`^NSpid:\\s+${pid}\\s+1$`, 'm'));
    // it joined the pod's network namespace, kept the host's mount namespace, sits in the pod cgroup
    expect(fs.readlinkSync(`/proc/${pid}/ns/net`)).to.equal(`net:[${fs.statSync(i.netnsPath).ino}]`);
    expect(fs.readlinkSync(`/proc/${pid}/ns/mnt`)).to.equal(fs.readlinkSync('/proc/self/ns/mnt'));
    expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).to.match(new RegExp(`:memory:/peapod/pod-${id}$`, 'm'));
    // One process, named pause, with no child (containers of the pod see it; critest looks for stray sleeps); the sandbox ID in its argv.
    expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8')).to.equal('pause\n');
    expect(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()).to.equal('');
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).to.include(id);
    // PodSandboxStatus notices an infra process killed behind peapod's back.
    const other = podConfig('shared-pid-2');
    other.linux!.security_context!.namespace_options!.pid = 'POD';
    const id2 = (await server.client.runtime.RunPodSandbox({ config: other })).pod_sandbox_id;
    process.kill((await info(id2)).info.infraPid!, 'SIGKILL');
    const notReady = async (): Promise<boolean> => (await info(id2)).status.state === 'SANDBOX_NOTREADY';
    for (const end = Date.now() + 30_000; !(await notReady()) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    expect((await info(id2)).status.state).to.equal('SANDBOX_NOTREADY');

    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    expect(stat === '' || / Z /.test(stat)).to.equal(true, `infra ${pid} still runs: ${stat}`);
  });

  it('runs a host-network pod in the host namespaces without CNI', async () => {
    const cfg = podConfig('hostnet', { hostname: '' });
    cfg.linux!.security_context!.namespace_options = { network: 'NODE', pid: 'POD', ipc: 'NODE' };
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { status, info: i } = await info(id);
    expect(status.network!.ip).to.equal('');
    expect(i.netnsPath).to.equal('');
    expect(i.cniResult).to.equal(null);
    expect(fs.readlinkSync(`/proc/${i.infraPid}/ns/net`)).to.equal(fs.readlinkSync('/proc/self/ns/net'));
    expect(fs.readFileSync(path.join(stateDir(id), 'hostname'), 'utf8')).to.equal(`${os.hostname()}\n`);
    expect(fs.readFileSync(path.join(stateDir(id), 'resolv.conf'), 'utf8')).to.equal(fs.readFileSync('/etc/resolv.conf', 'utf8'));
    expect(fs.existsSync(path.join(server.runroot, 'sandboxes', id, 'shm'))).to.equal(false);

    const bad = podConfig('hostnet-sysctl');
    bad.linux!.security_context!.namespace_options = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' };
    bad.linux!.sysctls = { 'net.core.somaxconn': '1024' };
    const err = await rpcError(server.client.runtime.RunPodSandbox({ config: bad }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('net.core.somaxconn');
  });

  it('runs a pod whose hostname is the kubelet\'s FQDN of 64 characters (setHostnameAsFQDN)', async () => {
    const fqdn = `web-0.${'s'.repeat(28)}.peapod-test.svc.cluster.local`;
    expect(fqdn).to.have.length(64);
    const { pod_sandbox_id: id } = await server.client.runtime.RunPodSandbox({ config: podConfig('fqdn', { hostname: fqdn }) });
    const { status, info: i } = await info(id);
    expect(status.state).to.equal('SANDBOX_READY');
    expect(await run('nsenter', [`--uts=${i.namespaces.uts}`, 'hostname'])).to.equal(fqdn);
    expect(fs.readFileSync(path.join(stateDir(id), 'hostname'), 'utf8')).to.equal(`${fqdn}\n`);
    expect(fs.readFileSync(path.join(stateDir(id), 'hosts'), 'utf8')).to.contain(`${status.network!.ip}\t${fqdn}\tweb-0\n`);
  });

  it('refuses a cgroup parent that does not fit the cgroup driver with INVALID_ARGUMENT, leaving nothing', async () => {
    const before = (await server.client.runtime.ListPodSandbox({})).items.length;
    let err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('cgslice', { linux: { cgroup_parent: 'kubepods-besteffort.slice' } }) }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('config.linux.cgroup_parent');
    const systemd = await startServer({ config: `${config()}[runtime]\ncgroup_driver = "systemd"\n` });
    try {
      for (const parent of ['/kubepods/besteffort/pod1234', 'kubepods--pod1234.slice']) {
        err = await rpcError(systemd.client.runtime.RunPodSandbox({ config: podConfig('cgpath', { linux: { cgroup_parent: parent } }) }));
        expect(err.code, err.details).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(err.details).to.contain('config.linux.cgroup_parent');
      }
      expect((await systemd.client.runtime.ListPodSandbox({})).items).to.deep.equal([]);
      expect(fs.readdirSync(path.join(systemd.root, 'sandboxes'))).to.deep.equal([]);
    } finally {
      await systemd.cleanup();
    }
    expect((await server.client.runtime.ListPodSandbox({})).items).to.have.length(before);
  });

  it('rejects bad hostnames, unknown runtime handlers and duplicates', async () => {
    const long = podConfig('x', { hostname: `${'a'.repeat(30)}.${'b'.repeat(34)}` });
    let err = await rpcError(server.client.runtime.RunPodSandbox({ config: long }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('config.hostname');
    expect(err.details).to.contain('longer than 64');
    err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('x', { hostname: 'a'.repeat(64) }) }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('x', { hostname: 'web..local' }) }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('x', { hostname: 'Bad_Name' }) }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('x'), runtime_handler: 'kata-nope' }));
    expect(err.code).to.equal(grpc.status.NOT_FOUND);
    expect(err.details).to.contain('kata-nope');

    const cfg = podConfig('dup');
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    err = await rpcError(server.client.runtime.RunPodSandbox({ config: { ...cfg, labels: { other: 'x' } } }));
    expect(err.code).to.equal(grpc.status.ALREADY_EXISTS);
    expect(err.details).to.contain(id);
  });

  it('hands a sandbox whose caller timed out to the retry with the same config', async () => {
    const cfg = podConfig('slowpoke');
    const first = await rpcError(server.client.runtime.RunPodSandbox({ config: cfg }, { deadline: Date.now() + 30 }));
    expect(first.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    const { pod_sandbox_id: id } = await server.client.runtime.RunPodSandbox({ config: cfg });
    // The retry got the first call's sandbox (joined it, or claimed it once finished), or, on a
    // loaded machine, made it when the first call expired before the server ran it: one sandbox either way.
    const { items } = await server.client.runtime.ListPodSandbox({ filter: { label_selector: { app: 'slowpoke' } } });
    expect(items.map((p) => p.id)).to.deep.equal([id]);
    const err = await rpcError(server.client.runtime.RunPodSandbox({ config: cfg }));
    expect(err.code).to.equal(grpc.status.ALREADY_EXISTS);
  });

  it('stops and removes idempotently, leaving no pins, mounts or state', async () => {
    const cfg = podConfig('gone');
    cfg.linux!.security_context!.namespace_options!.pid = 'POD';
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const { status, info: i } = await info(id);
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    expect((await info(id)).status.state).to.equal('SANDBOX_NOTREADY');
    const leases = fs.readdirSync(path.join(path.dirname(network.confDir), 'ipam', network.name));
    expect(leases).to.not.include(status.network!.ip);
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: id });
    const err = await rpcError(server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id }));
    expect(err.code).to.equal(grpc.status.NOT_FOUND);
    expect(fs.existsSync(i.netnsPath)).to.equal(false);
    expect(fs.existsSync(stateDir(id))).to.equal(false);
    expect(fs.existsSync(path.join(server.runroot, 'sandboxes', id))).to.equal(false);
    expect(runrootMounts(path.join(server.runroot, 'sandboxes', id))).to.deep.equal([]);
    expect(fs.existsSync(`/sys/fs/cgroup/memory/peapod/pod-${id}`)).to.equal(false);
  });

  it('rolls back everything when CNI ADD fails', async () => {
    const before = fs.readdirSync(path.join(server.runroot, 'sandboxes'));
    const broken = path.join(network.confDir, '00-broken.conflist');
    for (const [plugins, expectCode] of [
      [[{ type: 'peapod-no-such-plugin' }], grpc.status.UNKNOWN],
      [[{ type: 'bridge', bridge: network.bridge, ipam: { type: 'host-local', ranges: [[{ subnet: 'not-a-subnet' }]] } }], undefined],
      [[{ type: 'bridge', bridge: network.bridge, ipam: { type: 'host-local', ranges: [[{ subnet: network.subnet }]], dataDir: path.join(network.confDir, '..', 'ipam') } }, { type: 'peapod-fail' }], grpc.status.FAILED_PRECONDITION],
    ] as const) {
      fs.writeFileSync(broken, JSON.stringify({ cniVersion: '1.0.0', name: `${network.name}-broken`, plugins }));
      try {
        const err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('doomed') }));
        if (expectCode !== undefined) expect(err.code).to.equal(expectCode);
        expect(err.code).to.not.equal(grpc.status.OK);
        expect(err.details).to.match(/CNI plugin/);
        if (expectCode === grpc.status.FAILED_PRECONDITION) expect(err.details).to.contain('CNI error code 7').and.contain('invalid network config').and.contain('peapod test plugin refuses');
      } finally {
        fs.rmSync(broken, { force: true });
      }
      expect(fs.readdirSync(path.join(server.runroot, 'sandboxes'))).to.deep.equal(before);
      expect(runrootMounts(server.runroot).filter((m) => !before.some((b) => m.includes(b)))).to.deep.equal([]);
      const { items } = await server.client.runtime.ListPodSandbox({ filter: { label_selector: { app: 'doomed' } } });
      expect(items).to.deep.equal([]);
      const records = fs.readdirSync(path.join(server.root, 'sandboxes'));
      expect(records.length).to.equal((await server.client.runtime.ListPodSandbox({})).items.length);
    }
    // A shared-PID pod: its infra process starts while CNI ADD runs; the failed ADD still leaves no infra process behind.
    const infras = (): number[] =>
      fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return argv.includes('peapod-infra') && argv.some((a) => a.includes(server.runroot));
          } catch {
            return false;
          }
        })
        .map(Number);
    const infrasBefore = infras();
    fs.writeFileSync(broken, JSON.stringify({ cniVersion: '1.0.0', name: `${network.name}-broken`, plugins: [{ type: 'peapod-fail' }] }));
    try {
      const shared = podConfig('doomed-shared-pid');
      shared.linux!.security_context!.namespace_options!.pid = 'POD';
      const err = await rpcError(server.client.runtime.RunPodSandbox({ config: shared }));
      expect(err.details).to.match(/CNI plugin/);
    } finally {
      fs.rmSync(broken, { force: true });
    }
    expect(infras()).to.deep.equal(infrasBefore);
    expect(fs.readdirSync(path.join(server.runroot, 'sandboxes'))).to.deep.equal(before);
    expect(runrootMounts(server.runroot).filter((m) => !before.some((b) => m.includes(b)))).to.deep.equal([]);
  });

  it('keeps sandboxes, IPs and namespaces across a SIGKILL restart', async () => {
    const cfg = podConfig('survivor');
    cfg.linux!.security_context!.namespace_options!.pid = 'POD';
    const id = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    const before = await info(id);
    const listBefore = (await server.client.runtime.ListPodSandbox({})).items;
    await server.kill();
    server.client.close();
    server = await startServer({ dir: server.dir, config: config() });
    const after = await info(id);
    expect(after.status).to.deep.equal(before.status);
    expect(after.info.infraPid).to.equal(before.info.infraPid);
    const listAfter = (await server.client.runtime.ListPodSandbox({})).items;
    expect(listAfter).to.deep.equal(listBefore);
    listeners.push(await listenInNetns(after.info.netnsPath, 8082, 'survivor'));
    expect(await fetchTcp(after.status.network!.ip, 8082)).to.equal('hello survivor');
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
  });
});
