import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMountPoint, mountPoints, unmountEach } from '../../src/common/host/mounts';

describe('host mounts: unmountEach takes several targets down at once', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-mounts-'));
  });

  afterEach(() => {
    for (const m of mountPoints().filter((p) => p.startsWith(dir + '/')).reverse()) execFileSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tmpfs = (target: string): void => {
    fs.mkdirSync(target, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'peapod-test', target]);
  };

  it('unmounts every target, one stacked twice, skips one not mounted and keeps the others', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const plain = path.join(dir, 'plain');
    const other = path.join(dir, 'other');
    tmpfs(a);
    tmpfs(b);
    tmpfs(b);
    tmpfs(other);
    fs.mkdirSync(plain);
    expect(mountPoints().filter((p) => p === b)).to.have.length(2);

    await unmountEach([a, b, plain]);

    expect(isMountPoint(a)).to.equal(false);
    expect(isMountPoint(b)).to.equal(false);
    expect(isMountPoint(other)).to.equal(true);
    expect(fs.existsSync(plain)).to.equal(true);
  });

  it('does nothing for no targets or none mounted', async () => {
    await unmountEach([]);
    await unmountEach([path.join(dir, 'missing'), dir]);
    expect(fs.existsSync(dir)).to.equal(true);
  });
});
