import { expect } from 'chai';
import { PeapodError } from '../../src/common/errors';
import { CgroupFacts, checkRootlessResources, rootlessCgroups, gidMapped, rootlessSpec } from '../../src/runtime-service/oci/rootless';
import type { OciSpec } from '../../src/runtime-service/oci/types';

const CGROUP2 = 0x63677270;
const TMPFS = 0x01021994;

function facts(over: Partial<CgroupFacts> = {}): CgroupFacts {
  return {
    cgroupFsType: CGROUP2,
    procSelfCgroup: '0::/user.slice/user-1001.slice/user@1001.service/app.slice/peapod.scope\n',
    writable: () => true,
    controllers: () => ['cpu', 'memory', 'pids'],
    systemdUserManager: true,
    ...over,
  };
}

function spec(): OciSpec {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['true'], env: [], cwd: '/' },
    root: { path: '/r', readonly: false },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: { namespaces: [{ type: 'mount' }], cgroupsPath: '/peapod/c1', resources: { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 1 } } },
  } as OciSpec;
}

describe('rootless OCI spec: cgroups, limits, /sys and /dev/mqueue', () => {
  it('uses a systemd-delegated cgroup v2 subtree only when all of it is there, else says why not', () => {
    expect(rootlessCgroups(facts())).to.deep.equal({ kind: 'systemd', path: '/sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service/app.slice/peapod.scope' });
    expect(rootlessCgroups(facts({ cgroupFsType: TMPFS }))).to.deep.include({ kind: 'none' });
    expect((rootlessCgroups(facts({ cgroupFsType: TMPFS })) as { reason: string }).reason).to.match(/cgroup v1 or a hybrid/);
    expect((rootlessCgroups(facts({ writable: () => false })) as { reason: string }).reason).to.match(/^no cgroup is delegated to this user \(\/sys\/fs\/cgroup\/user\.slice\/.* is not writable or has no controllers/);
    expect((rootlessCgroups(facts({ controllers: () => [] })) as { reason: string }).reason).to.match(/no cgroup is delegated/);
    expect((rootlessCgroups(facts({ systemdUserManager: false })) as { reason: string }).reason).to.match(/systemd manager cannot be reached/);
    expect((rootlessCgroups(facts({ procSelfCgroup: '1:name=systemd:/\n' })) as { reason: string }).reason).to.match(/no cgroup v2 group/);
  });

  it('refuses each kind of limit without a cgroup, naming the field, and takes them with one', () => {
    const none = { kind: 'none' as const, reason: 'because' };
    for (const [res, field] of [
      [{ memoryLimitBytes: 1 << 20 }, 'memoryLimitBytes'],
      [{ cpuQuota: 50000, cpuPeriod: 100000 }, 'cpuQuota'],
      [{ cpuShares: 512 }, 'cpuShares'],
      [{ cpusetCpus: '0' }, 'cpusetCpus'],
      [{ unified: { 'pids.max': '10' } }, 'unified'],
    ] as const) {
      let err: unknown;
      try {
        checkRootlessResources(res, none);
      } catch (e) {
        err = e;
      }
      expect(err, field).to.be.instanceOf(PeapodError);
      expect((err as PeapodError).code).to.equal('INVALID_ARGUMENT');
      expect((err as PeapodError).field).to.equal(`resources.${field}`);
      expect((err as Error).message).to.match(/^resource limits \(.+\) need a cgroup, and a rootless container has none here: because; run it without limits, or as root$/);
    }
    expect(() => checkRootlessResources({ oomScoreAdj: 100 }, none)).to.not.throw();
    expect(() => checkRootlessResources(null, none)).to.not.throw();
    expect(() => checkRootlessResources({ memoryLimitBytes: 1 << 20 }, { kind: 'systemd', path: '/x' })).to.not.throw();
  });

  it('drops cgroupsPath and resources without a cgroup, binds /sys for the host network and /dev/mqueue for the host IPC', () => {
    const s = spec();
    const own = rootlessSpec(s, { cgroups: { kind: 'none', reason: 'r' }, hostNetwork: false, hostIpc: false, hostMqueue: true, containerId: 'c1', ttyGroupMapped: true });
    expect(own.linux.cgroupsPath).to.equal(undefined);
    expect(own.linux.resources).to.equal(undefined);
    expect(own.mounts).to.deep.equal(s.mounts);
    expect(s.linux.cgroupsPath, 'the input is not changed').to.equal('/peapod/c1');
    const host = rootlessSpec(s, { cgroups: { kind: 'systemd', path: '/x' }, hostNetwork: true, hostIpc: true, hostMqueue: true, containerId: 'c1', ttyGroupMapped: true });
    expect(host.linux.cgroupsPath).to.equal('user.slice:peapod:c1');
    expect(host.linux.resources).to.deep.equal(s.linux.resources);
    expect(host.mounts.map((m) => [m.destination, m.type, m.source])).to.deep.equal([
      ['/proc', 'proc', 'proc'],
      ['/dev/mqueue', 'bind', '/dev/mqueue'],
      ['/sys', 'bind', '/sys'],
    ]);
    expect(host.mounts[2].options).to.include('ro');
    const noMqueue = rootlessSpec(s, { cgroups: { kind: 'none', reason: 'r' }, hostNetwork: false, hostIpc: true, hostMqueue: false, containerId: 'c1', ttyGroupMapped: true });
    expect(noMqueue.mounts.map((m) => m.destination)).to.deep.equal(['/proc', '/sys']);
  });

  it('mounts /dev/pts without gid=5 when the namespace does not map gid 5 (a single-ID mapping), as Podman', () => {
    const s = spec();
    s.mounts.push({ destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance', 'mode=0620', 'gid=5'] });
    const base = { cgroups: { kind: 'none' as const, reason: 'r' }, hostNetwork: false, hostIpc: false, hostMqueue: true, containerId: 'c1' };
    const pts = (ttyGroupMapped: boolean) => rootlessSpec(s, { ...base, ttyGroupMapped }).mounts.find((m) => m.type === 'devpts')!.options;
    expect(pts(true)).to.include('gid=5');
    expect(pts(false)).to.deep.equal(['nosuid', 'newinstance', 'mode=0620']);
    expect(gidMapped(5, '         0       1003          1\n')).to.equal(false);
    expect(gidMapped(5, '         0       1001          1\n         1     100000      65536\n')).to.equal(true);
    expect(gidMapped(0, '0 1001 1')).to.equal(true);
  });
});
