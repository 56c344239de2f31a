import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSubordinateIds } from '../../../src/common/userns';
import { BuiltImage, buildImage, busyboxFiles, pushImage } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { createTempUser, HostUser, makeRootlessEnv, rootlessTestUser, TestUser, RootlessEnv, TempUser } from './rootless-harness';

/** Every path under `dir` (lstat, no symlink followed) with its owner. */
function owners(dir: string): { path: string; uid: number; gid: number }[] {
  const out: { path: string; uid: number; gid: number }[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    out.push({ path: p, uid: st.uid, gid: st.gid });
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** The layer diff dirs of an image, top-most first, from `peapod image inspect`. */
async function lowerDirs(env: RootlessEnv, ref: string): Promise<string[]> {
  const r = await env.peapod(['image', 'inspect', '--format', '{{.GraphDriver.Data.LowerDir}}', ref]);
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout.trim().split(':');
}

describe('rootless peapod: the user\'s store, and layers unpacked in the user namespace', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let layered: BuiltImage;
  let tooHigh: BuiltImage;
  let rootOnly: BuiltImage;
  let testUser: TestUser;
  let user: HostUser;
  let env: RootlessEnv;
  let range: { start: number; count: number };

  before(async () => {
    registry = await startRegistry();
    layered = await buildImage({
      layers: [
        {
          files: [
            ...busyboxFiles(),
            { type: 'file', path: 'data/keep/old', content: 'old' },
            { type: 'file', path: 'data/gone', content: 'gone' },
            { type: 'file', path: 'data/owned', content: 'app', uid: 1000, gid: 1000 },
            { type: 'file', path: 'data/setuid', content: '#!/bin/sh\n', mode: 0o4755 },
            { type: 'file', path: 'data/caps', content: 'x', xattrs: { 'security.capability': Buffer.from('0100000200200000000000000000000000000000', 'hex'), 'user.note': 'kept' } },
            { type: 'file', path: 'data/trusted', content: 'x', xattrs: { 'trusted.secret': 'dropped', 'user.overlay.opaque': 'y' } },
            { type: 'chardev', path: 'data/null', major: 1, minor: 3 },
          ],
        },
        { files: [{ type: 'whiteout', path: 'data/gone' }, { type: 'opaque', path: 'data/keep' }, { type: 'file', path: 'data/keep/new', content: 'new' }] },
      ],
    });
    tooHigh = await buildImage({ layers: [{ files: [{ type: 'file', path: 'big', content: 'x', uid: 70000, gid: 70000 }] }] });
    rootOnly = await buildImage({ layers: [{ files: [{ type: 'file', path: 'bin/busybox', content: fs.readFileSync('/bin/busybox'), mode: 0o755 }] }] });
    await pushImage(registry.url, 'test/layered', 'v1', layered);
    await pushImage(registry.url, 'test/toohigh', 'v1', tooHigh);
    await pushImage(registry.url, 'test/rootonly', 'v1', rootOnly);
    testUser = rootlessTestUser();
    user = testUser.user;
    [range] = readSubordinateIds('/etc/subuid', { name: user.name, id: user.uid });
    env = makeRootlessEnv(user);
  });
  after(async () => {
    await env?.cleanup();
    testUser?.release();
    await registry?.stop();
  });

  it('pulls into ~/.local/share/peapod with the runroot under XDG_RUNTIME_DIR, every file the user\'s or its subordinate IDs\'', async () => {
    const r = await env.peapod(['pull', '-q', `${registry.host}/test/layered:v1`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${layered.configDigest.slice(7)}\n`);
    const info = await env.peapod(['info', '--format', 'json']);
    expect(info.code, info.stderr).to.equal(0);
    type IdMap = { container_id: number; host_id: number; size: number }[];
    const i = JSON.parse(info.stdout) as { host: { rootless: boolean; idMappings: { uidmap: IdMap; gidmap: IdMap } }; store: { graphRoot: string; runRoot: string; configFile: string; imageStore: { number: number } } };
    expect(i.host.rootless).to.equal(true);
    expect(i.host.idMappings.uidmap).to.deep.equal([{ container_id: 0, host_id: user.uid, size: 1 }, { container_id: 1, host_id: range.start, size: range.count }]);
    expect(i.host.idMappings.gidmap[0]).to.deep.equal({ container_id: 0, host_id: user.gid, size: 1 });
    expect(i.store.configFile).to.equal(path.join(env.home, '.config/peapod/peapod.conf'));
    expect(i.store.graphRoot).to.equal(path.join(env.home, '.local/share/peapod/storage'));
    expect(i.store.runRoot).to.equal(path.join(env.runtimeDir!, 'peapod'));
    expect(i.store.imageStore.number).to.equal(1);
    // Private to the user: another user sees nothing of the store or the runroot.
    expect(fs.statSync(path.join(env.home, '.local/share/peapod')).mode & 0o777).to.equal(0o700);
    // The runroot: 0710 as every runroot (runtime-service/state-dirs.ts), group search only.
    expect(fs.statSync(path.join(env.runtimeDir!, 'peapod')).mode & 0o777).to.equal(0o710);
    const all = [...owners(path.join(env.home, '.local')), ...owners(env.runtimeDir!)];
    expect(all.length).to.be.greaterThan(100);
    const foreign = all.filter((o) => !(o.uid === user.uid || (o.uid >= range.start && o.uid < range.start + range.count)) || !(o.gid === user.gid || (o.gid >= range.start && o.gid < range.start + range.count)));
    expect(foreign, 'files not owned by the user or its subordinate IDs').to.deep.equal([]);
    const images = await env.peapod(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.stdout).to.equal(`${registry.host}/test/layered:v1\n`);
  });

  it('shifts owners into the subordinate range, keeps setuid bits and capabilities, drops trusted.* and devices, marks opaque dirs in user.overlay.*', async () => {
    const [top, bottom] = await lowerDirs(env, `${registry.host}/test/layered:v1`);
    const owned = fs.statSync(path.join(bottom, 'data/owned'));
    expect([owned.uid, owned.gid]).to.deep.equal([range.start + 999, range.start + 999]);
    expect(fs.statSync(path.join(bottom, 'bin/busybox')).uid).to.equal(user.uid);
    expect(fs.statSync(path.join(bottom, 'data/setuid')).mode & 0o7777).to.equal(0o4755);
    expect(fs.existsSync(path.join(bottom, 'data/null')), 'device node').to.equal(false);
    const inside = await env.peapod(['unshare', 'sh', '-c', `getfattr --absolute-names -d -m - -e hex ${bottom}/data/caps ${bottom}/data/trusted ${top}/data/keep; stat -c '%F %t:%T' ${top}/data/gone; ls -ln ${bottom}/data/owned`]);
    expect(inside.code, inside.stderr).to.equal(0);
    expect(inside.stdout).to.contain(`# file: ${bottom}/data/caps\nsecurity.capability=0x0100000200200000000000000000000000000000\n`);
    expect(inside.stdout).to.contain('user.note=0x6b657074');
    expect(inside.stdout).to.not.contain('trusted.secret');
    expect(inside.stdout, 'an image\'s own user.overlay.* is not taken').to.not.match(new RegExp(`# file: ${bottom}/data/trusted\\nuser\\.overlay`));
    expect(inside.stdout).to.contain(`# file: ${top}/data/keep\nuser.overlay.opaque=0x79\n`);
    expect(inside.stdout).to.contain('character special file 0:0');
    expect(inside.stdout).to.match(/ 1000 +1000 .*data\/owned\n/);
  });

  it('refuses a layer with an owner the namespace does not map, naming the entry, the IDs and /etc/subuid', async () => {
    const r = await env.peapod(['pull', '-q', `${registry.host}/test/toohigh:v1`]);
    expect(r.code).to.equal(125);
    expect(r.stderr).to.contain(`layer entry "big" is owned by uid 70000 and gid 70000, which this user namespace does not map (uids 0-${range.count} (host ${user.uid}, ${range.start}-${range.start + range.count - 1})`);
    expect(r.stderr).to.contain('the user needs subordinate IDs covering them in /etc/subuid and /etc/subgid');
    const images = await env.peapod(['images', '-q']);
    expect(images.stdout.trim().split('\n')).to.have.length(1);
  });

  it('login (run as the user, outside the namespace) keeps the credentials in the user\'s runtime dir, where pull (inside) finds them', async () => {
    const auth = await startRegistry({ htpasswd: { alice: 's3cret' } });
    try {
      await pushImage(auth.url, 'private/app', 'v1', rootOnly, { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } });
      const denied = await env.peapod(['pull', '-q', `${auth.host}/private/app:v1`]);
      expect(denied.code).to.equal(125);
      const login = await env.peapod(['login', '-u', 'alice', '--password-stdin', auth.host], { input: 's3cret\n' });
      expect(login.code, login.stderr).to.equal(0);
      const file = path.join(env.runtimeDir!, 'containers', 'auth.json');
      expect(fs.statSync(file).uid).to.equal(user.uid);
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      const pulled = await env.peapod(['pull', '-q', `${auth.host}/private/app:v1`]);
      expect(pulled.code, pulled.stderr).to.equal(0);
      expect(pulled.stdout).to.equal(`${rootOnly.configDigest.slice(7)}\n`);
      expect((await env.peapod(['rmi', `${auth.host}/private/app:v1`])).code).to.equal(0);
    } finally {
      await auth.stop();
    }
  });

  describe('a user without subordinate IDs', () => {
    let single: TempUser;
    let senv: RootlessEnv;
    before(() => {
      single = createTempUser();
      senv = makeRootlessEnv(single);
    });
    after(async () => {
      await senv?.cleanup();
      single?.remove();
    });

    it('pulls an image whose files are all root\'s, and is told why one with other owners cannot be', async () => {
      const ok = await senv.peapod(['pull', '-q', `${registry.host}/test/rootonly:v1`]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(fs.statSync(path.join((await lowerDirs(senv, `${registry.host}/test/rootonly:v1`))[0], 'bin/busybox')).uid).to.equal(single.uid);
      const no = await senv.peapod(['pull', '-q', `${registry.host}/test/layered:v1`]);
      expect(no.code).to.equal(125);
      expect(no.stderr).to.contain('single-ID user namespace');
      expect(no.stderr).to.contain(`is owned by uid 1000 and gid 1000, which this user namespace does not map (uids 0 (host ${single.uid}), gids 0 (host ${single.gid}))`);
    });

    it('runs a container of that image (its /dev/pts without the unmapped tty group)', async () => {
      const r = await senv.peapod(['run', '--rm', '--network', 'none', `${registry.host}/test/rootonly:v1`, '/bin/busybox', 'cat', '/proc/self/uid_map']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trim().split(/\s+/)).to.deep.equal(['0', String(single.uid), '1']);
    });
  });
});
