import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostCommandError } from '../../src/common/host/command';
import { MOUNT_BINARY, runMount, runUmount } from '../../src/common/host/mount-program';

/** The per-mount options of `target` in /proc/self/mountinfo (field 6), or undefined when not mounted. */
function mountOptions(target: string): string[] | undefined {
  const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === target);
  return lines.length ? lines[lines.length - 1].split(' ')[5].split(',') : undefined;
}

/** peapod-mount (native/mount.c) as runMount and runUmount drive it: mount(8)'s arguments, one system call. */
describe('peapod-mount: mounts without mount(8)', function () {
  this.timeout(30_000);
  let dir: string;

  before(function () {
    if (!fs.existsSync(MOUNT_BINARY)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-mount-'));
  });
  after(async () => {
    if (!dir) return;
    for (const t of ['t', 'o/merged']) if (mountOptions(path.join(dir, t))) await runUmount([path.join(dir, t)], true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mounts a tmpfs with flag words and data, and a bind remount keeps the flags it does not name (ro, noexec)', async () => {
    const t = path.join(dir, 't');
    fs.mkdirSync(t);
    await runMount(['-t', 'tmpfs', '-o', 'mode=1777,noexec,size=65536', 'shm', t]);
    expect(mountOptions(t)).to.include.members(['rw', 'noexec']);
    expect((fs.statSync(t).mode & 0o7777).toString(8)).to.equal('1777');
    await runMount(['-o', 'remount,bind,ro', t]);
    await runMount(['-o', 'remount,bind,nosuid,nodev', t]);
    expect(mountOptions(t)).to.include.members(['ro', 'nosuid', 'nodev', 'noexec']);
    await runMount(['-o', 'remount,bind,suid,dev,rw', t]);
    const back = mountOptions(t);
    expect(back).to.include.members(['rw', 'noexec']);
    expect(back).to.not.include.members(['nosuid']);
    expect(back).to.not.include.members(['nodev']);
    await runUmount([t]);
    expect(mountOptions(t)).to.equal(undefined);
  });

  it('mounts an overlay whose lower dirs are relative to the working directory', async () => {
    const o = path.join(dir, 'o');
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(o, d), { recursive: true });
    fs.writeFileSync(path.join(o, 'l1', 'a'), 'top');
    fs.writeFileSync(path.join(o, 'l2', 'a'), 'bottom');
    fs.writeFileSync(path.join(o, 'l2', 'b'), 'only below');
    const merged = path.join(o, 'merged');
    await runMount(['-t', 'overlay', 'overlay', '-o', `lowerdir=l1:l2,upperdir=${o}/upper,workdir=${o}/work`, merged], { cwd: o });
    expect(fs.readFileSync(path.join(merged, 'a'), 'utf8')).to.equal('top');
    expect(fs.readFileSync(path.join(merged, 'b'), 'utf8')).to.equal('only below');
    await runUmount([merged]);
    expect(mountOptions(merged)).to.equal(undefined);
  });

  it('fails with the kernel\'s reason naming the target, and tries every target of an unmount before failing', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    await runMount(['-t', 'tmpfs', '-o', 'size=65536', 'x', b]);
    const err = await runUmount([a, b]).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(HostCommandError);
    expect((err as HostCommandError).stderr).to.contain(`${a}: Invalid argument`);
    expect((err as HostCommandError).exitCode).to.equal(32);
    expect(mountOptions(b), 'the second target was unmounted all the same').to.equal(undefined);
    const bad = await runMount(['-t', 'no-such-fs', 'x', a]).then(() => undefined, (e: unknown) => e);
    expect((bad as HostCommandError).stderr).to.contain(`${a}: No such device`);
  });
});
