import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostCommandError } from '../../src/common/host/command';
import { mountPoints, unmountAll } from '../../src/common/host/mounts';
import { createPinnedNamespaces, isNamespaceFile, PINNS_BINARY, removeNamespacePin } from '../../src/runtime-service/sandbox/namespaces';

/** The per-mount options and super options of `target` in /proc/self/mountinfo. */
function mountLine(target: string): string | undefined {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === target);
}

/** createPinnedNamespaces with peapod-pinns (native/pinns.c): pins, hostname, loopback and /dev/shm from one process. */
describe('pinned namespaces of a pod (peapod-pinns)', function () {
  this.timeout(30_000);
  let dir: string;

  before(function () {
    if (!fs.existsSync(PINNS_BINARY)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-pinns-'));
  });
  after(async () => {
    if (!dir) return;
    for (const m of mountPoints().filter((p) => p.startsWith(dir + '/'))) await unmountAll(m, { lazy: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pins new net, IPC and UTS namespaces with the hostname set, lo up and /dev/shm mounted; the pins come off', async () => {
    const pins = { net: path.join(dir, 'netns'), ipc: path.join(dir, 'ipcns'), uts: path.join(dir, 'utsns') };
    const shm = path.join(dir, 'shm');
    await createPinnedNamespaces(pins, { hostname: 'pinned-pod', loopback: true, shm: { target: shm, sizeBytes: 1 << 20 } });
    for (const f of Object.values(pins)) expect(isNamespaceFile(f), f).to.equal(true);
    expect(fs.readlinkSync('/proc/self/ns/net')).to.not.equal(execFileSync('nsenter', [`--net=${pins.net}`, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).trim());
    expect(execFileSync('nsenter', [`--uts=${pins.uts}`, 'hostname'], { encoding: 'utf8' }).trim()).to.equal('pinned-pod');
    expect(os.hostname()).to.not.equal('pinned-pod');
    expect(execFileSync('nsenter', [`--net=${pins.net}`, 'ip', '-o', 'link', 'show', 'lo'], { encoding: 'utf8' })).to.match(/<[^>]*\bUP\b/);
    const line = mountLine(shm) ?? '';
    expect(line.split(' ')[5].split(',')).to.include.members(['nosuid', 'nodev', 'noexec']);
    expect(line).to.match(/ - tmpfs shm .*size=1024k/);
    expect((fs.statSync(shm).mode & 0o7777).toString(8)).to.equal('1777');
    for (const f of Object.values(pins)) await removeNamespacePin(f);
    await unmountAll(shm);
    for (const f of [...Object.values(pins), shm]) expect(mountLine(f), f).to.equal(undefined);
  });

  it('makes only the namespaces asked for, with no hostname or loopback step for those not made', async () => {
    const net = path.join(dir, 'only-net');
    await createPinnedNamespaces({ net }, { hostname: 'ignored', loopback: true });
    expect(isNamespaceFile(net)).to.equal(true);
    expect(os.hostname()).to.not.equal('ignored');
    await removeNamespacePin(net);
  });

  it('fails naming the step that failed, leaving the pins made before it to the caller\'s rollback', async () => {
    const uts = path.join(dir, 'utsns-fails');
    // Longer than a hostname can be (64): sethostname(2) refuses it after the pin is made.
    const err = await createPinnedNamespaces({ uts }, { hostname: 'h'.repeat(100) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(HostCommandError);
    expect((err as HostCommandError).stderr).to.contain('sethostname').and.to.contain('Invalid argument');
    expect(isNamespaceFile(uts), 'the pin made before the failure').to.equal(true);
    await removeNamespacePin(uts);
    expect(mountLine(uts)).to.equal(undefined);
  });
});
