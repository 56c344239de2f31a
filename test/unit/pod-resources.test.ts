import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PeapodError } from '../../src/common/errors';
import { cgroupHierarchies, cpuWeightOfShares, podCgroupSettings, writePodCgroup } from '../../src/runtime-service/sandbox/pod-resources';

function refusal(fn: () => unknown): PeapodError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PeapodError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('pod-level cgroup limits (src/runtime-service/sandbox/pod-resources.ts)', () => {
  it('sums resources and overhead, scaling the overhead quota to the resources period', () => {
    const { settings } = podCgroupSettings(
      { memoryLimitBytes: 256 << 20, cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, cpusetCpus: '0', hugepageLimits: [{ pageSize: '2MB', limitBytes: 4 << 20 }] },
      { memoryLimitBytes: 64 << 20, cpuShares: 100, cpuQuota: 5_000, cpuPeriod: 50_000, hugepageLimits: [{ pageSize: '2MB', limitBytes: 2 << 20 }] },
    );
    const v1 = Object.fromEntries(settings.filter((s) => s.v1).map((s) => [s.v1!.file, s.v1!.value]));
    expect(v1).to.deep.equal({
      'memory.limit_in_bytes': String(320 << 20),
      'cpu.shares': '612',
      'cpu.cfs_period_us': '100000',
      'cpu.cfs_quota_us': '60000',
      'cpuset.cpus': '0',
      'hugetlb.2MB.limit_in_bytes': String(6 << 20),
    });
    const v2 = Object.fromEntries(settings.filter((s) => s.v2).map((s) => [s.v2!.file, s.v2!.value]));
    expect(v2['memory.max']).to.equal(String(320 << 20));
    expect(v2['cpu.max']).to.equal('60000 100000');
    expect(v2['cpu.weight']).to.equal(String(cpuWeightOfShares(612)));
    expect(cpuWeightOfShares(2)).to.equal(1);
    expect(cpuWeightOfShares(262144)).to.equal(10000);
  });

  it('writes nothing for an empty request, and "max" for an unlimited quota', () => {
    expect(podCgroupSettings({}).settings).to.deep.equal([]);
    const { settings } = podCgroupSettings({ cpuQuota: -1 }, { cpuQuota: 10_000 });
    expect(settings.find((s) => s.v2?.file === 'cpu.max')?.v2?.value).to.equal('max 100000');
    expect(settings.find((s) => s.v1?.file === 'cpu.cfs_quota_us')?.v1?.value).to.equal('-1');
  });

  it('refuses bad values, naming the field', () => {
    const field = (fn: () => unknown) => {
      const e = refusal(fn);
      expect(e.code).to.equal('INVALID_ARGUMENT');
      return e.field;
    };
    expect(field(() => podCgroupSettings({ memoryLimitBytes: -1 }))).to.equal('resources.memoryLimitBytes');
    expect(field(() => podCgroupSettings({ cpuShares: 1 }))).to.equal('resources.cpuShares');
    expect(field(() => podCgroupSettings({}, { cpuShares: 300_000 }))).to.equal('overhead.cpuShares');
    expect(field(() => podCgroupSettings({ cpuPeriod: 10 }))).to.equal('resources.cpuPeriod');
    expect(field(() => podCgroupSettings({ cpuQuota: 5 }))).to.equal('resources.cpuQuota');
    expect(field(() => podCgroupSettings({ cpusetCpus: '0-3;rm -rf' }))).to.equal('resources.cpusetCpus');
    expect(field(() => podCgroupSettings({ hugepageLimits: [{ pageSize: '2M', limitBytes: 1 }] }))).to.equal('resources.hugepageLimits[0].pageSize');
    expect(field(() => podCgroupSettings({ unified: { '../memory.max': '1' } }))).to.equal('resources.unified');
  });

  it('writes v1 files by controller and v2 files where cgroup.controllers has it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-podres-'));
    try {
      const pod = '/peapod/pod-abc';
      for (const h of ['memory', 'cpu', 'unified']) fs.mkdirSync(path.join(dir, h, pod), { recursive: true });
      fs.writeFileSync(path.join(dir, 'unified', pod, 'cgroup.controllers'), 'memory pids\n');
      const hierarchies = [
        { mountPoint: path.join(dir, 'memory'), version: 1 as const, controllers: ['memory'] },
        { mountPoint: path.join(dir, 'cpu'), version: 1 as const, controllers: ['cpu'] },
        { mountPoint: path.join(dir, 'unified'), version: 2 as const, controllers: [] },
        { mountPoint: path.join(dir, 'cpuset'), version: 1 as const, controllers: ['cpuset'] },
      ];
      const { settings, unified } = podCgroupSettings({ memoryLimitBytes: 1 << 20, cpuShares: 256, unified: { 'memory.high': '900000' } });
      const written = writePodCgroup(pod, settings, unified, hierarchies);
      expect(written.map((f) => path.relative(dir, f)).sort()).to.deep.equal(
        ['cpu/peapod/pod-abc/cpu.shares', 'memory/peapod/pod-abc/memory.limit_in_bytes', 'unified/peapod/pod-abc/memory.high', 'unified/peapod/pod-abc/memory.max'],
      );
      expect(fs.readFileSync(path.join(dir, 'memory', pod, 'memory.limit_in_bytes'), 'utf8')).to.equal(String(1 << 20));
      const e = refusal(() => writePodCgroup(pod, [], { 'io.max': '8:0 rbps=1' }, hierarchies));
      expect(e.message).to.contain('needs a cgroup v2 hierarchy with the io controller');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts back the values it wrote when a later write fails, newest first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-podres-'));
    try {
      const pod = '/peapod/pod-abc';
      for (const h of ['memory', 'cpu']) fs.mkdirSync(path.join(dir, h, pod), { recursive: true });
      const memory = path.join(dir, 'memory', pod, 'memory.limit_in_bytes');
      fs.writeFileSync(memory, '9223372036854771712\n');
      // A file that cannot be written (a directory in its place): the cpu hierarchy comes after memory.
      fs.mkdirSync(path.join(dir, 'cpu', pod, 'cpu.shares'));
      const hierarchies = [
        { mountPoint: path.join(dir, 'memory'), version: 1 as const, controllers: ['memory'] },
        { mountPoint: path.join(dir, 'cpu'), version: 1 as const, controllers: ['cpu'] },
      ];
      const { settings, unified } = podCgroupSettings({ memoryLimitBytes: 1 << 20, cpuShares: 256 });
      const e = refusal(() => writePodCgroup(pod, settings, unified, hierarchies));
      expect(e.message).to.contain('cpu.shares');
      expect(fs.readFileSync(memory, 'utf8')).to.equal('9223372036854771712');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the hierarchies of a hybrid-mode mountinfo', () => {
    const mi = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(cgroupHierarchies(mi)).to.deep.equal([
      { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', version: 1, controllers: ['cpu'] },
      { mountPoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'] },
      { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: [] },
      { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
    ]);
  });
});
