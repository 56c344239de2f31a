import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { isProcessAlive } from '../../../src/common/host/proc';
import { readSubordinateIds } from '../../../src/common/userns';
import { buildImage, busyboxFiles, busyboxImage, pushImage } from '../../fixtures/image-builder';
import { freePort, startRegistry, TestRegistry } from '../harness/registry';
import { HostUser, makeRootlessEnv, rootlessTestUser, TestUser, processesInUserNamespaceOf, REPO, RootlessEnv, waitFor } from './rootless-harness';

const STEPS = path.join(REPO, 'dist', 'test', 'fixtures', 'rootless-steps.js');

/** Connects to 127.0.0.1:port and returns what the peer sent before closing ('' when refused or empty). */
function readFrom(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(5000, () => s.destroy());
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
  });
}

describe('rootless peapod: root file systems, runc and slirp4netns in the user namespace', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let testUser: TestUser;
  let user: HostUser;
  let env: RootlessEnv;
  let storage: string;
  let range: { start: number; count: number };
  let layeredRef: string;
  let busyboxRef: string;

  /** Runs a step of test/fixtures/rootless-steps.ts as the user, in its namespace; returns its JSON. */
  async function step(name: string, args: object): Promise<Record<string, unknown>> {
    const r = await env.peapod(['unshare', process.execPath, STEPS, name, JSON.stringify(args)]);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as Record<string, unknown>;
    } catch {
      throw new Error(`step ${name}: exit ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
    }
  }

  /** A directory of the user in its home. */
  function userDir(name: string): string {
    const d = path.join(env.home, name);
    fs.mkdirSync(d);
    fs.chownSync(d, user.uid, user.gid);
    return d;
  }

  /** What `ls -A` shows in the user's namespace. */
  async function ls(dir: string): Promise<string[]> {
    const r = await env.peapod(['unshare', 'ls', '-A', dir]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.split('\n').filter(Boolean);
  }

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage());
    await pushImage(
      registry.url,
      'test/layered',
      'v1',
      await buildImage({
        layers: [
          { files: [...busyboxFiles(), { type: 'file', path: 'data/keep/old', content: 'old' }, { type: 'file', path: 'data/gone', content: 'gone' }, { type: 'file', path: 'data/stays', content: 's' }] },
          { files: [{ type: 'whiteout', path: 'data/gone' }, { type: 'opaque', path: 'data/keep' }, { type: 'file', path: 'data/keep/new', content: 'new' }] },
        ],
      }),
    );
    testUser = rootlessTestUser();
    user = testUser.user;
    [range] = readSubordinateIds('/etc/subuid', { name: user.name, id: user.uid });
    env = makeRootlessEnv(user);
    layeredRef = `${registry.host}/test/layered:v1`;
    busyboxRef = `${registry.host}/library/busybox:latest`;
    for (const ref of [layeredRef, busyboxRef]) {
      const r = await env.peapod(['pull', '-q', ref]);
      expect(r.code, r.stderr).to.equal(0);
    }
    storage = path.join(env.home, '.local/share/peapod/storage');
  });
  after(async () => {
    await env?.cleanup();
    testUser?.release();
    await registry?.stop();
  });

  for (const program of ['kernel', 'fuse-overlayfs'] as const) {
    it(`mounts a rootfs with ${program === 'kernel' ? "the kernel's overlayfs (userxattr)" : 'fuse-overlayfs'}: whiteouts and opaque dirs apply, writes land in the upper dir as the user's`, async () => {
      const dir = userDir(`mount-${program}`);
      const m = await step('mount', { storage, ref: layeredRef, dir, program });
      expect(m.error, String(m.error)).to.equal(undefined);
      if (program === 'kernel') {
        expect(m.fsType).to.equal('overlay');
        expect(String(m.options).split(',')).to.include('userxattr');
      } else expect(m.fsType).to.equal('fuse.fuse-overlayfs');
      const rootfs = path.join(dir, 'rootfs');
      expect(await ls(path.join(rootfs, 'data'))).to.deep.equal(['keep', 'stays']);
      expect(await ls(path.join(rootfs, 'data/keep'))).to.deep.equal(['new']);
      const w = await env.peapod(['unshare', 'sh', '-c', `echo hi > ${rootfs}/written && chown 7:7 ${rootfs}/written`]);
      expect(w.code, w.stderr).to.equal(0);
      const written = fs.statSync(path.join(dir, 'upper', 'written'));
      expect([written.uid, written.gid]).to.deep.equal([range.start + 6, range.start + 6]);
      // The host sees no mount (it lives in the user's mount namespace).
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(rootfs);
      expect((await step('unmount', { target: rootfs })).error).to.equal(undefined);
      expect(await ls(rootfs)).to.deep.equal([]);
      // fuse-overlayfs' daemon goes with its mount: only the holder is left in the namespace.
      const holder = env.holder()!;
      await waitFor(() => processesInUserNamespaceOf(holder.pid).length === 1, 'only the holder left in the user namespace');
    });
  }

  it('names the FUSE device when fuse-overlayfs cannot open it', async () => {
    const fake = path.join(env.home, 'fuse-0600');
    fs.writeFileSync(fake, '', { mode: 0o600 });
    const m = await step('mount', { storage, ref: layeredRef, dir: userDir('mount-nofuse'), program: 'fuse-overlayfs', fuseDevice: fake });
    expect(m.error).to.equal(`cannot mount the container's root file system: the FUSE device ${fake} is not open to this user (mode 0600): as root, chmod 0666 ${fake} (Debian's default; see docs/rootless.md)`);
    const none = await step('mount', { storage, ref: layeredRef, dir: userDir('mount-nodev'), program: 'fuse-overlayfs', fuseDevice: path.join(env.home, 'no-such-fuse') });
    expect(none.error).to.match(/there is no FUSE device .*no-such-fuse: load the fuse module \(as root: modprobe fuse\)$/);
  });

  it('runs a container with runc in rootless mode: uid 0 mapped to the user, a volume file the user\'s on the host, no cgroup', async () => {
    const dir = userDir('ctr');
    const vol = userDir('vol');
    const r = await step('runc', { storage, ref: busyboxRef, dir, args: ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /vol/made-inside; ls -ln /vol'], volume: { hostPath: vol, containerPath: '/vol' } });
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.code).to.equal(0);
    const lines = String(r.output).split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines.slice(0, 3)).to.deep.equal(['0', `0 ${user.uid} 1`, `1 ${range.start} ${range.count}`]);
    expect(fs.statSync(path.join(vol, 'made-inside')).uid).to.equal(user.uid);
    expect(r.cgroupsPath).to.equal(null);
  });

  it('runs a container under conmon in the namespace: created, started, its exit code and log lines recorded', async () => {
    const r = await step('conmon', { storage, ref: busyboxRef, dir: userDir('ctr-conmon'), args: ['sh', '-c', 'echo out; echo err >&2; id -u; exit 7'] });
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.exitCode).to.equal(7);
    expect((r.output as string[]).slice().sort()).to.deep.equal(['0', 'err', 'out']);
  });

  it('refuses resource limits without a delegated cgroup, naming the limit and why', async () => {
    const r = await step('runc', { storage, ref: busyboxRef, dir: userDir('ctr-mem'), args: ['true'], resources: { memoryLimitBytes: 64 * 1024 * 1024 } });
    expect(r.code).to.equal('INVALID_ARGUMENT');
    expect(r.field).to.equal('resources.memoryLimitBytes');
    expect(r.error).to.match(/^resource limits \(memoryLimitBytes\) need a cgroup, and a rootless container has none here: this host does not run cgroup v2 alone/);
  });

  it('gives a container on the host network the host\'s /sys, bound read-only', async () => {
    const r = await step('runc', { storage, ref: busyboxRef, dir: userDir('ctr-host'), args: ['sh', '-c', 'ls /sys/class/net'], network: 'host' });
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.code).to.equal(0);
    expect(r.sys).to.deep.equal({ destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    expect(String(r.output).split('\n')).to.include.members(fs.readdirSync('/sys/class/net'));
    // This host has no /dev/mqueue to bind for the host's IPC: the container gets none rather than failing.
    expect(r.mqueue).to.equal(fs.existsSync('/dev/mqueue') ? r.mqueue : null);
  });

  it('networks a pod with slirp4netns: a port published on the host\'s loopback reaches a server in the pod', async () => {
    const dir = userDir('pod');
    const hostPort = await freePort();
    const s = await step('slirp', { dir, hostPort, guestPort: 8080 });
    expect(s.error, String(s.error)).to.equal(undefined);
    expect(s.secondForward).to.equal(`cannot publish tcp port 127.0.0.1:${hostPort}: it is in use or not allowed`);
    const server = env.peapod(['unshare', 'nsenter', `--net=${String(s.netns)}`, 'busybox', 'nc', '-l', '-p', '8080', '-e', 'echo', 'hello from the pod']);
    // Connections before nc listens are refused inside and closed by slirp4netns: try until one is answered.
    let got = '';
    const poll = setInterval(() => void readFrom(hostPort).then((g) => (got ||= g)), 100);
    try {
      await waitFor(() => got.includes('hello from the pod'), 'the pod server to answer through slirp4netns', 30_000);
    } finally {
      clearInterval(poll);
    }
    expect((await server).code).to.equal(0);
    const tap = await env.peapod(['unshare', 'nsenter', `--net=${String(s.netns)}`, 'ip', '-4', '-o', 'addr', 'show', 'tap0']);
    expect(tap.stdout).to.contain('inet 10.0.2.100/24');
    expect((await step('slirp-stop', { pid: s.pid, startTime: s.startTime, apiSocket: s.apiSocket })).error).to.equal(undefined);
    expect(isProcessAlive({ pid: Number(s.pid), startTime: String(s.startTime) })).to.equal(false);
  });

  it('names /dev/net/tun when slirp4netns cannot open it', async () => {
    const fake = path.join(env.home, 'tun-0600');
    fs.writeFileSync(fake, '', { mode: 0o600 });
    const s = await step('slirp', { dir: userDir('pod-notun'), hostPort: await freePort(), guestPort: 80, tunDevice: fake });
    expect(s.code).to.equal('WRONG_STATE');
    expect(s.error).to.equal(`the tun device ${fake} is not open to this user (mode 0600), and slirp4netns needs it for a rootless pod network: as root, chmod 0666 ${fake} (Debian's default; see docs/rootless.md), or use --network none or host`);
  });
});
