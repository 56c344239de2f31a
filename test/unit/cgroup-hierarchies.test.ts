import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cgroupHierarchies, cgroupHierarchiesAsync, CGROUP_ROOT } from '../../src/common/host/cgroup-hierarchies';

/** The cgroup and cgroup2 mount points below `root` as /proc/self/mountinfo lists them (proc(5)), sorted, once each. */
function fromMountinfo(root: string): string[] {
  const out = new Set<string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    const mountPoint = line.split(' ')[4];
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && path.dirname(mountPoint) === root) out.add(mountPoint);
  }
  return [...out].sort();
}

describe('cgroup hierarchies from the cgroup root\'s entries (common/host/cgroup-hierarchies.ts)', () => {
  it('are the cgroup mount points mountinfo lists under /sys/fs/cgroup, sync and async alike', async () => {
    const expected = fromMountinfo(CGROUP_ROOT);
    expect(cgroupHierarchies().slice().sort()).to.deep.equal(expected);
    expect((await cgroupHierarchiesAsync()).sort()).to.deep.equal(expected);
  });

  it('skips what is no mount point (directories, links, files) and finds none in a root that does not exist', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cgroups-'));
    try {
      fs.mkdirSync(path.join(dir, 'memory'));
      fs.symlinkSync('memory', path.join(dir, 'cpu'));
      fs.writeFileSync(path.join(dir, 'file'), '');
      expect(cgroupHierarchies(dir)).to.deep.equal([]);
      expect(await cgroupHierarchiesAsync(dir)).to.deep.equal([]);
      expect(cgroupHierarchies(path.join(dir, 'absent'))).to.deep.equal([]);
      expect(await cgroupHierarchiesAsync(path.join(dir, 'absent'))).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
