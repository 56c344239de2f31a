import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { conmonCreateArgs, conmonExecArgs, parseSyncMessages } from '../../src/conmon/driver';
import { closePartialLogLines, joinLogLines, splitLogStreams } from '../../src/runtime-service/container/logs';
import { defaultSeccompProfile } from '../../src/runtime-service/oci/seccomp';
import { buildSpec, containerCapabilities, DEFAULT_CAPABILITIES, ociResources, processArgs, processEnv, SpecInput } from '../../src/runtime-service/oci/spec';
import { readInRoot, resolveUser } from '../../src/runtime-service/oci/user';
import { PeapodError } from '../../src/common/errors';
import { toGrpcStatus } from '../../src/server/status';
import { containerConfig, resources, securityContext } from '../integration/helpers/container-config';
import { containerSpecOf, userOf } from '../../src/runtime-service/cri/container-config';
import { resourcesOf } from '../../src/runtime-service/cri/resources';
import type { ContainerConfig__Output } from '../../src/generated/runtime/v1/ContainerConfig';

const ALL = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_TIME'];

/** SpecInput from a CRI config, as the CRI server translates it (`config`), or from a ContainerSpec. */
function input(p: Partial<SpecInput> & { config?: ContainerConfig__Output } = {}): SpecInput {
  const { config, ...rest } = p;
  return {
    containerId: 'c1',
    spec: containerSpecOf(config ?? containerConfig('c', { command: ['/bin/sh'] }), { logDirectory: '' }).spec,
    image: { config: { Env: ['PATH=/bin'] } },
    sandbox: { id: 's1', namespaces: { network: '/run/ns/net', ipc: '/run/ns/ipc', uts: '/run/ns/uts', pid: '/proc/42/ns/pid' }, hostsPath: '/p/hosts', hostnamePath: '/p/hostname', resolvConfPath: '/p/resolv.conf', shmPath: '/p/shm', sysctls: {} },
    rootfsPath: '/b/rootfs',
    user: { uid: 0, gid: 0 },
    mounts: [],
    devices: [],
    cgroupsPath: '/peapod/pod/c1',
    minOomScoreAdj: 0,
    allCapabilities: ALL,
    cgroupV2: false,
    appArmorEnabled: false,
    ...rest,
  };
}

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof PeapodError ? toGrpcStatus(err).code : -1;
  }
  return undefined;
}

describe('OCI spec generation', () => {
  it('takes Entrypoint and Cmd from the image unless the request replaces them', () => {
    const image = { config: { Entrypoint: ['/ep'], Cmd: ['a', 'b'] } };
    expect(processArgs({ entrypoint: [], cmd: [] }, image)).to.deep.equal(['/ep', 'a', 'b']);
    expect(processArgs({ entrypoint: [], cmd: ['x'] }, image)).to.deep.equal(['/ep', 'x']);
    expect(processArgs({ entrypoint: ['/cmd'], cmd: [] }, image)).to.deep.equal(['/cmd']);
    expect(processArgs({ entrypoint: ['/cmd'], cmd: ['y'] }, image)).to.deep.equal(['/cmd', 'y']);
    expect(code(() => processArgs({ entrypoint: [], cmd: [] }, {}))).to.equal(3); // INVALID_ARGUMENT
  });

  it('merges env: image first, request wins, PATH defaulted, HOME from passwd', () => {
    const { env: reqEnv } = containerSpecOf(containerConfig('c', { envs: [{ key: 'A', value: Buffer.from('req') } as never] }), { logDirectory: '' }).spec;
    const env = processEnv({ env: reqEnv, tty: false }, { config: { Env: ['A=img', 'B=img'] } }, '/home/u');
    expect(env).to.include.members(['A=req', 'B=img', 'HOME=/home/u']);
    expect(env.find((e) => e.startsWith('PATH='))).to.match(/\/usr\/bin/);
  });

  it('computes capabilities: default set, drop ALL then add, privileged gets all', () => {
    expect(containerCapabilities([], [], false, ALL)).to.deep.equal([...DEFAULT_CAPABILITIES].sort());
    expect(containerCapabilities(['net_admin'], ['ALL'], false, ALL)).to.deep.equal(['CAP_NET_ADMIN']);
    expect(containerCapabilities([], ['CAP_KILL'], false, ALL)).to.not.include('CAP_KILL');
    expect(containerCapabilities(['ALL'], [], false, ALL)).to.include.members(ALL);
    expect(containerCapabilities([], ['ALL'], true, ALL)).to.deep.equal(ALL);
  });

  it('leaves the inheritable and ambient sets empty for root, a user and a privileged container (CVE-2022-24769)', () => {
    const withSc = (sc: Parameters<typeof securityContext>[0]) => containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: securityContext(sc) } });
    for (const [config, uid] of [
      [withSc({}), 0],
      [withSc({}), 1000],
      [withSc({ capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } }), 0],
      [withSc({ privileged: true }), 0],
    ] as const) {
      const caps = buildSpec(input({ config, user: { uid, gid: uid } })).process.capabilities!;
      expect(caps.inheritable, `uid ${uid}`).to.deep.equal([]);
      expect(caps.ambient, `uid ${uid}`).to.deep.equal([]);
      expect(caps.effective.length).to.be.greaterThan(0);
    }
  });

  it('makes an explicitly requested ambient capability inheritable and ambient, and only that one', () => {
    const sc = securityContext({ capabilities: { add_capabilities: [], drop_capabilities: [], add_ambient_capabilities: ['net_bind_service', 'CAP_SYS_ADMIN'] } });
    const caps = buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: sc } }), user: { uid: 1000, gid: 1000 } })).process.capabilities!;
    // CAP_SYS_ADMIN is not in the bounding set: the kernel could not raise it, so it is not asked for.
    expect(caps.ambient).to.deep.equal(['CAP_NET_BIND_SERVICE']);
    expect(caps.inheritable).to.deep.equal(['CAP_NET_BIND_SERVICE']);
  });

  it('clamps oom_score_adj to the host floor', () => {
    const cfg = containerConfig('c', { command: ['x'], linux: { resources: resources({ oom_score_adj: '-998' }), security_context: securityContext() } });
    expect(buildSpec(input({ config: cfg, minOomScoreAdj: 0 })).process.oomScoreAdj).to.equal(0);
    const cfg2 = containerConfig('c', { command: ['x'], linux: { resources: resources({ oom_score_adj: '500' }), security_context: securityContext() } });
    expect(buildSpec(input({ config: cfg2, minOomScoreAdj: 0 })).process.oomScoreAdj).to.equal(500);
  });

  it('joins the pod namespaces and chooses the pid namespace by mode', () => {
    const nsOf = (pid: 'POD' | 'CONTAINER' | 'NODE'): unknown => {
      const cfg = containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: securityContext({ namespace_options: { network: 'POD', pid, ipc: 'POD', target_id: '', userns_options: null } }) } });
      return buildSpec(input({ config: cfg })).linux.namespaces;
    };
    expect(nsOf('POD')).to.deep.include({ type: 'pid', path: '/proc/42/ns/pid' });
    expect(nsOf('CONTAINER')).to.deep.include({ type: 'pid' });
    expect((nsOf('NODE') as { type: string }[]).some((n) => n.type === 'pid')).to.equal(false);
    const ns = nsOf('CONTAINER') as unknown[];
    expect(ns).to.deep.include({ type: 'network', path: '/run/ns/net' });
    expect(ns).to.deep.include({ type: 'mount' });
    // No security context: the proto default, the pod's PID namespace.
    const bare = buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: null } }) })).linux.namespaces;
    expect(bare).to.deep.include({ type: 'pid', path: '/proc/42/ns/pid' });
  });

  it('mounts the pod files and /dev/shm, lets a CRI mount replace one, and sets propagation', () => {
    const spec = buildSpec(input({ mounts: [{ containerPath: '/etc/hosts', hostPath: '/mine', readonly: true, propagation: 'slave' }] }));
    const hosts = spec.mounts.filter((m) => m.destination === '/etc/hosts');
    expect(hosts).to.have.length(1);
    expect(hosts[0].source).to.equal('/mine');
    expect(hosts[0].options).to.include.members(['ro', 'rslave']);
    expect(spec.linux.rootfsPropagation).to.equal('rslave');
    expect(spec.mounts.find((m) => m.destination === '/dev/shm')?.source).to.equal('/p/shm');
    expect(spec.mounts.map((m) => m.destination)).to.include.members(['/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hostname', '/etc/resolv.conf']);
  });

  it('masks paths and applies seccomp unless privileged; readonly rootfs', () => {
    const sc = securityContext({ seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, readonly_rootfs: true });
    const spec = buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: sc } }) }));
    expect(spec.root.readonly).to.equal(true);
    expect(spec.linux.maskedPaths).to.include('/proc/kcore');
    expect(spec.linux.seccomp?.syscalls?.[0].names).to.include('unshare');
    const priv = buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: { ...sc, privileged: true } } }) }));
    expect(priv.linux.maskedPaths).to.equal(undefined);
    expect(priv.linux.seccomp).to.equal(undefined);
    expect(priv.process.capabilities?.bounding).to.deep.equal(ALL);
    const unconfined = buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: securityContext({ seccomp: { profile_type: 'Unconfined', localhost_ref: '' } }) } }) }));
    expect(unconfined.linux.seccomp).to.equal(undefined);
    expect(code(() => buildSpec(input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: securityContext({ seccomp: { profile_type: 'Localhost', localhost_ref: '/x' } }) } }) })))).to.equal(3);
  });

  it('reads the deprecated seccomp_profile_path and refuses a path without localhost/ (critest)', () => {
    const withPath = (p: string, privileged = false) =>
      input({ config: containerConfig('c', { command: ['x'], linux: { resources: resources(), security_context: securityContext({ seccomp_profile_path: p, privileged }) } }) });
    expect(buildSpec(withPath('runtime/default')).linux.seccomp).to.not.equal(undefined);
    expect(buildSpec(withPath('docker/default')).linux.seccomp).to.not.equal(undefined);
    expect(buildSpec(withPath('unconfined')).linux.seccomp).to.equal(undefined);
    expect(buildSpec(withPath('')).linux.seccomp).to.equal(undefined);
    expect(code(() => buildSpec(withPath('/etc/profile.json')))).to.equal(3);
    // A privileged container ignores seccomp altogether.
    expect(buildSpec(withPath('/etc/profile.json', true)).linux.seccomp).to.equal(undefined);
  });

  it('lets a capability unblock the syscalls it governs in the default profile', () => {
    expect(defaultSeccompProfile(['CAP_SYS_ADMIN']).syscalls?.[0].names).to.not.include('mount');
    expect(defaultSeccompProfile([]).syscalls?.[0].names).to.include.members(['mount', 'kexec_load', 'add_key']);
  });

  it('maps resources to OCI units, unified only on cgroup v2', () => {
    const r = resources({ cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', memory_limit_in_bytes: '1048576', cpuset_cpus: '0', unified: { 'memory.high': '1000' } });
    expect(ociResources(resourcesOf(r), false)).to.deep.equal({ cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' }, memory: { limit: 1048576 } });
    expect(ociResources(resourcesOf(r), true).unified).to.deep.equal({ 'memory.high': '1000' });
    const swap = resources({ memory_limit_in_bytes: '1048576', memory_swap_limit_in_bytes: '2097152' });
    expect(ociResources(resourcesOf(swap), false).memory).to.deep.equal({ limit: 1048576, swap: 2097152 });
    expect(ociResources(resourcesOf(swap), false, false).memory).to.deep.equal({ limit: 1048576 });
  });
});

describe('container user resolution', () => {
  const passwd = 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n';
  const group = 'root:x:0:\napp:x:1001:\nextra:x:2000:app,other\n';

  it('resolves run_as_username with its groups and supplemental_groups', () => {
    const r = resolveUser(userOf(securityContext({ run_as_username: 'app', supplemental_groups: ['5'] })), undefined, passwd, group);
    expect(r.user).to.deep.equal({ uid: 1000, gid: 1001, additionalGids: [2000, 5] });
    expect(r.home).to.equal('/home/app');
  });

  it('resolves the image User name:group and numeric forms, and run_as_group', () => {
    expect(resolveUser(undefined, 'app:extra', passwd, group).user.gid).to.equal(2000);
    expect(resolveUser(undefined, '1234', passwd, group).user).to.deep.equal({ uid: 1234, gid: 0, additionalGids: [] });
    expect(resolveUser(userOf(securityContext({ run_as_user: { value: '1000' }, run_as_group: { value: '7' } })), undefined, passwd, group).user.gid).to.equal(7);
    expect(code(() => resolveUser(userOf(securityContext({ run_as_username: 'nobody' })), undefined, passwd, group))).to.equal(3);
  });

  it('refuses run_as_group without run_as_user or run_as_username (critest)', () => {
    expect(code(() => resolveUser(userOf(securityContext({ run_as_group: { value: '7' } })), undefined, passwd, group))).to.equal(3);
    expect(resolveUser(userOf(securityContext({ run_as_username: 'app', run_as_group: { value: '7' } })), undefined, passwd, group).user.gid).to.equal(7);
  });

  it('never follows a link out of the rootfs', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-root-'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-out-'));
    try {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.writeFileSync(path.join(outside, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
      fs.symlinkSync(path.join(outside, 'passwd'), path.join(root, 'etc/passwd'));
      fs.symlinkSync('../../../../..' + path.join(outside, 'passwd'), path.join(root, 'etc/group'));
      expect(readInRoot(root, '/etc/passwd')).to.equal(undefined);
      expect(readInRoot(root, '/etc/group')).to.equal(undefined);
      fs.writeFileSync(path.join(root, 'etc/real'), 'ok');
      fs.symlinkSync('/etc/real', path.join(root, 'etc/alias'));
      expect(readInRoot(root, '/etc/alias')).to.equal('ok');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('CRI log records', () => {
  it('splits an exec log into raw stdout and stderr, partial records without newline, capped', () => {
    const log = Buffer.from('t stdout F a\nt stderr F e\nt stdout P b\nt stdout P c\nt stdout F \n');
    const r = splitLogStreams(log, 100);
    expect(r.stdout.toString()).to.equal('a\nbc\n');
    expect(r.stderr.toString()).to.equal('e\n');
    expect(splitLogStreams(log, 3).stdout.toString()).to.equal('a\nb');
  });

  it('closes a stream whose last record is partial with an empty full record', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-log-'));
    try {
      const f = path.join(dir, '0.log');
      fs.writeFileSync(f, '2026-01-01T00:00:00.000000000Z stdout F one\n2026-01-01T00:00:00.000000000Z stdout P two\n2026-01-01T00:00:00.000000000Z stderr F e\n');
      expect(closePartialLogLines(f, 1767225600000000000n)).to.deep.equal(['stdout']);
      expect(joinLogLines(fs.readFileSync(f, 'utf8'))).to.deep.equal([
        { stream: 'stdout', line: 'one' },
        { stream: 'stderr', line: 'e' },
        { stream: 'stdout', line: 'two' },
      ]);
      expect(closePartialLogLines(f, 1767225600000000000n)).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('conmon driver arguments', () => {
  it('builds create and exec argument vectors with the protocol flags', () => {
    const a = conmonCreateArgs({ id: 'c', bundle: '/b', runtimePath: '/r', runtimeRoot: '/rr', pidFile: '/p', conmonPidFile: '/cp', logPath: '/l', exitDir: '/e', socketDir: '/s', persistDir: '/pd', terminal: false, stdin: true, systemdCgroup: false });
    expect(a.join(' ')).to.contain('-c c').and.contain('-l k8s-file:/l').and.contain('--runtime-arg --root=/rr').and.contain('--exit-dir /e').and.contain('--persist-dir /pd');
    expect(a).to.include('-i').and.not.include('-t');
    // stdin_once false: an attach client leaving must not close the container's stdin.
    expect(a).to.include('--leave-stdin-open');
    const once = conmonCreateArgs({ id: 'c', bundle: '/b', runtimePath: '/r', runtimeRoot: '/rr', pidFile: '/p', conmonPidFile: '/cp', logPath: '/l', exitDir: '/e', socketDir: '/s', persistDir: '/pd', terminal: false, stdin: true, stdinOnce: true, systemdCgroup: false });
    expect(once).to.not.include('--leave-stdin-open');
    const e = conmonExecArgs({ containerId: 'c', execId: 'x', runtimePath: '/r', runtimeRoot: '/rr', processSpecFile: '/ps', workDir: '/w', timeoutSec: 5, maxLogBytes: 10 });
    expect(e.join(' ')).to.contain('-e --exec-process-spec /ps').and.contain('-T 10').and.contain('--log-global-size-max 10');
    // No bundle: concurrent execs of one container would share its FIFOs and attach socket.
    expect(e).to.not.include('-b');
    expect(parseSyncMessages('{"data": 12}\n{"data": -1, "message": "command timed out"}\n')).to.deep.equal([{ data: 12, message: undefined }, { data: -1, message: 'command timed out' }]);
  });
});
