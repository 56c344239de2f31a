import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMountPoint, mountedOver, mountPoints } from '../../src/common/host/mounts';
import { unrestrictedRootfsMounts } from '../../src/runtime-service/container/rootfs';

describe('mount probes without /proc/self/mountinfo: mountedOver agrees with it', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-probes-'));
  });

  afterEach(() => {
    for (const m of mountPoints().filter((p) => p.startsWith(dir + '/')).reverse()) execFileSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sees a tmpfs, a namespace file bound over a file and an overlay; not a plain directory, file or missing path', () => {
    const shm = path.join(dir, 'shm');
    fs.mkdirSync(shm);
    execFileSync('mount', ['-t', 'tmpfs', 'peapod-test', shm]);
    const pin = path.join(dir, 'netns');
    fs.writeFileSync(pin, '');
    execFileSync('mount', ['--bind', '/proc/self/ns/net', pin]);
    for (const d of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d));
    const merged = path.join(dir, 'merged');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, merged]);
    const plainFile = path.join(dir, 'plain');
    fs.writeFileSync(plainFile, 'x');
    for (const [p, want] of [
      [shm, true],
      [pin, true],
      [merged, true],
      [path.join(dir, 'lower'), false],
      [plainFile, false],
      [path.join(dir, 'missing'), false],
      [path.join(plainFile, 'below-a-file'), false],
    ] as const) {
      expect(mountedOver(p), p).to.equal(want);
      expect(isMountPoint(p), `${p} (mountinfo)`).to.equal(want);
    }
    execFileSync('umount', [shm]);
    expect(mountedOver(shm)).to.equal(false);
  });

  it('unrestrictedRootfsMounts finds a rootfs mounted suid and dev, and reads no mountinfo when none is mounted', () => {
    const bundles = path.join(dir, 'containers');
    for (const id of ['a', 'b']) fs.mkdirSync(path.join(bundles, id, 'rootfs'), { recursive: true });
    fs.writeFileSync(path.join(bundles, 'not-a-bundle'), '');
    expect(unrestrictedRootfsMounts(bundles)).to.deep.equal([]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'suid,dev', 'peapod-test', path.join(bundles, 'a', 'rootfs')]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev', 'peapod-test', path.join(bundles, 'b', 'rootfs')]);
    expect(unrestrictedRootfsMounts(bundles)).to.deep.equal(['a']);
  });
});
