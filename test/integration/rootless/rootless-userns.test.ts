import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSubordinateIds } from '../../../src/common/userns';
import { CLI_MAIN, createTempUser, HostUser, makeRootlessEnv, rootlessTestUser, TestUser, processesInUserNamespaceOf, RootlessEnv, runAs, TempUser } from './rootless-harness';

/** The uid_map a user should get: itself as 0, then its first subordinate range from 1. */
function expectedUidMap(user: HostUser): string {
  const [r] = readSubordinateIds('/etc/subuid', { name: user.name, id: user.uid });
  return `0 ${user.uid} 1\n1 ${r.start} ${r.count}\n`;
}

/** /proc/self/uid_map with its columns squeezed. */
const squeeze = (s: string): string => s.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).join('\n');

/** A process's command line and stat line, for an assertion's message. */
function describeProcess(pid: number): string {
  try {
    return `${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}| ${fs.readFileSync(`/proc/${pid}/stat`, 'utf8').trim()}`;
  } catch {
    return `${pid}: gone`;
  }
}

describe('rootless peapod: the user namespace (peapod unshare, the holder, its errors)', function () {
  this.timeout(120_000);
  let testUser: TestUser;
  let user: HostUser;
  let env: RootlessEnv;
  before(() => {
    testUser = rootlessTestUser();
    user = testUser.user;
    env = makeRootlessEnv(user);
  });
  after(async () => {
    await env?.cleanup();
    testUser?.release();
  });

  it('peapod unshare runs a command as uid 0 of a namespace mapping the user and its subordinate range', async () => {
    const map = await env.peapod(['unshare', 'cat', '/proc/self/uid_map', '/proc/self/gid_map']);
    expect(map.code, map.stderr).to.equal(0);
    expect(squeeze(map.stdout)).to.equal(expectedUidMap(user) + expectedUidMap(user).replace(`0 ${user.uid} 1`, `0 ${user.gid} 1`));
    expect(map.stderr).to.equal('');
    const id = await env.peapod(['unshare', 'id', '-u']);
    expect(id.stdout).to.equal('0\n');
    // No option of unshare's own is taken from the command's arguments.
    const ls = await env.peapod(['unshare', 'ls', '-d', '--', '/']);
    expect(ls.stdout).to.equal('/\n');
  });

  it('files made inside belong to the user on the host, and ID N inside is subordinate ID N-1 outside', async () => {
    const [range] = readSubordinateIds('/etc/subuid', { name: user.name, id: user.uid });
    const r = await env.peapod(['unshare', 'sh', '-c', 'touch mine theirs && chown 1000:1000 theirs && echo "$PEAPOD_ROOT $PEAPOD_RUNROOT"']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${path.join(env.home, '.local/share/peapod')} ${path.join(env.runtimeDir!, 'peapod')}\n`);
    expect(fs.statSync(path.join(env.home, 'mine')).uid).to.equal(user.uid);
    expect(fs.statSync(path.join(env.home, 'theirs')).uid).to.equal(range.start + 999);
    expect(fs.statSync(path.join(env.home, 'theirs')).gid).to.equal(range.start + 999);
  });

  it('every command joins the one namespace its holder keeps, with the mounts made there, by the launcher or by node', async () => {
    const holder = env.holder();
    expect(holder, 'holder file').to.not.equal(undefined);
    const before = await env.peapod(['unshare', 'sh', '-c', 'mkdir -p m && mount -t tmpfs peapodtest m && readlink /proc/self/ns/user /proc/self/ns/mnt']);
    expect(before.code, before.stderr).to.equal(0);
    const launcher = await env.peapod(['unshare', 'sh', '-c', 'readlink /proc/self/ns/user /proc/self/ns/mnt; grep -c " peapodtest " /proc/self/mountinfo']);
    const node = await env.peapod(['unshare', 'sh', '-c', 'readlink /proc/self/ns/user /proc/self/ns/mnt; grep -c " peapodtest " /proc/self/mountinfo'], { via: 'node' });
    expect(launcher.stdout).to.equal(`${before.stdout}1\n`);
    expect(node.stdout).to.equal(`${before.stdout}1\n`);
    expect(env.holder()).to.deep.equal(holder);
    // The host sees none of it.
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(' peapodtest ');
    // The holder runs as the user in its own session, holding the namespace.
    const status = fs.readFileSync(`/proc/${holder!.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).to.equal(String(user.uid));
    expect(fs.readFileSync(`/proc/${holder!.pid}/stat`, 'utf8').split(') ')[1].split(' ')[3]).to.equal(String(holder!.pid)); // session id = its pid
    expect(before.stdout.split('\n')[0]).to.equal(fs.readlinkSync(`/proc/${holder!.pid}/ns/user`));
  });

  it('passes the exit code through: the command\'s, 127 for a command not found, 125 for root', async () => {
    expect((await env.peapod(['unshare', 'sh', '-c', 'exit 3'])).code).to.equal(3);
    expect((await env.peapod(['unshare', 'sh', '-c', 'exit 3'], { via: 'node' })).code).to.equal(3);
    const missing = await env.peapod(['unshare', 'no-such-command']);
    expect(missing.code).to.equal(127);
    expect(missing.stderr).to.equal('Error: exec: "no-such-command": executable file not found in $PATH\n');
    const killed = await env.peapod(['unshare', 'sh', '-c', 'kill -TERM $$'], { via: 'node' });
    expect(killed.signal ?? killed.code).to.be.oneOf(['SIGTERM', 143]);
    const asRoot = await runAs({ name: 'root', uid: 0, gid: 0 }, process.execPath, [CLI_MAIN, 'unshare', 'true'], { PATH: env.env.PATH, HOME: env.home });
    expect(asRoot.code).to.equal(125);
    expect(asRoot.stderr).to.equal('Error: please use unshare with rootless\n');
  });

  it('makes a new holder when the old one died, and one holder for commands that start at once', async () => {
    const { killNamespace } = await import('./rootless-harness');
    await killNamespace(env.holder());
    const old = env.holder()!;
    const results = await Promise.all([0, 1, 2, 3].map((i) => env.peapod(['unshare', 'readlink', '/proc/self/ns/user'], { via: i % 2 ? 'node' : 'launcher' })));
    for (const r of results) expect(r.code, r.stderr).to.equal(0);
    const namespaces = new Set(results.map((r) => r.stdout));
    expect([...namespaces]).to.have.length(1);
    const now = env.holder()!;
    expect(now.pid).to.not.equal(old.pid);
    expect(fs.readlinkSync(`/proc/${now.pid}/ns/user`) + '\n').to.equal(results[0].stdout);
    // Only the recorded holder remains in that namespace (the others' commands have exited).
    const left = processesInUserNamespaceOf(now.pid);
    expect(left, left.map(describeProcess).join('\n')).to.deep.equal([now.pid]);
  });

  it('the launcher takes neither a zombie of the namespace nor a reused pid for the holder: the CLI then joins or makes one', async () => {
    const { killNamespace, waitFor } = await import('./rootless-harness');
    expect((await env.peapod(['unshare', 'true'])).code).to.equal(0);
    const holder = env.holder()!;
    // A zombie in the namespace (the state of a holder killed and not yet reaped): `sleep 600` never reaps the /bin/true it inherited from sh.
    const parent = env.peapod(['unshare', 'sh', '-c', '/bin/true & exec sleep 600']);
    let zombie = 0;
    await waitFor(() => {
      for (const p of processesInUserNamespaceOf(holder.pid)) {
        try {
          if (/^\d+ \(true\) Z /.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'))) zombie = p;
        } catch {
          // gone
        }
      }
      return zombie !== 0;
    }, 'a zombie in the namespace');
    const stat = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    fs.writeFileSync(env.holderFile(), `${zombie} ${stat(zombie)[19]} ${holder.userNamespace}\n`);
    const r = await env.peapod(['unshare', 'readlink', '/proc/self/ns/user']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${fs.readlinkSync(`/proc/${holder.pid}/ns/user`)}\n`);
    expect(env.holder()!.pid).to.not.equal(zombie);
    // A live process of the user in the host's namespace, recorded as if it were the holder (a reused pid).
    await killNamespace(env.holder());
    await parent;
    const other = env.exec('/bin/sleep', ['600']);
    await waitFor(() => fs.readFileSync(`/proc/${other.pid}/cmdline`, 'utf8') === '/bin/sleep\u0000600\u0000', 'sleep to start');
    fs.writeFileSync(env.holderFile(), `${other.pid} ${stat(other.pid)[19]}\n`);
    const again = await env.peapod(['unshare', 'cat', '/proc/self/uid_map']);
    expect(again.code, again.stderr).to.equal(0);
    expect(squeeze(again.stdout)).to.equal(expectedUidMap(user));
    expect(env.holder()!.pid).to.not.equal(other.pid);
    process.kill(other.pid, 'SIGKILL');
    await other;
  });

  it('keeps the namespace when its holder dies while a process of it lives: the next command joins it, mounts and all', async () => {
    const mounted = await env.peapod(['unshare', 'sh', '-c', 'mkdir -p kept && mount -t tmpfs peapodkept kept && readlink /proc/self/ns/user']);
    expect(mounted.code, mounted.stderr).to.equal(0);
    const old = env.holder()!;
    expect(old.userNamespace).to.equal(fs.statSync(`/proc/${old.pid}/ns/user`).ino);
    // A process of the namespace that outlives the holder (as a container's monitor does).
    const member = env.peapod(['unshare', 'sleep', '600']);
    const { waitFor } = await import('./rootless-harness');
    await waitFor(() => processesInUserNamespaceOf(old.pid).length >= 2, 'the sleeping member to join the namespace');
    process.kill(old.pid, 'SIGKILL');
    await waitFor(() => !fs.existsSync(`/proc/${old.pid}/ns`), 'the holder to die');
    const again = await env.peapod(['unshare', 'sh', '-c', 'readlink /proc/self/ns/user; grep -c " peapodkept " /proc/self/mountinfo']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.equal(`${mounted.stdout}1\n`);
    const now = env.holder()!;
    expect(now.pid).to.not.equal(old.pid);
    expect(now.userNamespace).to.equal(old.userNamespace);
    const { killNamespace } = await import('./rootless-harness');
    await killNamespace(now);
    await member;
  });

  it('names newuidmap and its package when the user has subordinate IDs but no newuidmap', async () => {
    const bin = fs.mkdtempSync(path.join(env.home, 'bin-'));
    fs.chmodSync(bin, 0o755);
    for (const tool of ['unshare', 'nsenter', 'flock', 'sleep', 'readlink', 'cat']) fs.symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
    const dead = env.holder();
    const { killNamespace } = await import('./rootless-harness');
    await killNamespace(dead);
    const r = await env.peapod(['unshare', 'true'], { via: 'node', env: { PATH: bin } });
    expect(r.code).to.equal(125);
    expect(r.stderr).to.equal('Error: newuidmap not found in PATH: mapping the subordinate IDs of /etc/subuid and /etc/subgid needs it (install the uidmap package)\n');
    fs.rmSync(bin, { recursive: true });
  });
});

describe('rootless peapod: a user without subordinate IDs, and without XDG_RUNTIME_DIR', function () {
  this.timeout(120_000);
  let user: TempUser;
  let env: RootlessEnv;
  before(() => {
    user = createTempUser();
    env = makeRootlessEnv(user, { runtimeDir: false });
  });
  after(async () => {
    await env?.cleanup();
    user?.remove();
  });

  it('gets a single-ID namespace and a warning, on every command, of what will not work', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await env.peapod(['unshare', 'cat', '/proc/self/uid_map', '/proc/self/gid_map']);
      expect(r.code, r.stderr).to.equal(0);
      expect(squeeze(r.stdout)).to.equal(`0 ${user.uid} 1\n0 ${user.gid} 1\n`);
      // The CLI's log: Podman-style text lines on stderr (src/cli/log.ts); the warning is one WARN line.
      const warnings = r.stderr.split('\n').filter((l) => /^WARN\[\d{4}\] /.test(l)).map((l) => l.replace(/^WARN\[\d{4}\] /, ''));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/^no subordinate IDs for pptest[0-9a-f]{6} in \/etc\/subuid and \/etc\/subgid: using a single-ID user namespace .*cannot be pulled/);
    }
  });

  it('keeps its runtime state in a private /tmp/peapod-run-UID, and refuses one someone else made', async () => {
    const dir = `/tmp/peapod-run-${user.uid}`;
    const st = fs.statSync(dir);
    expect(st.uid).to.equal(user.uid);
    expect(st.mode & 0o777).to.equal(0o700);
    expect(fs.existsSync(path.join(dir, 'peapod', 'userns.pid'))).to.equal(true);
    const { killNamespace } = await import('./rootless-harness');
    await killNamespace(env.holder());
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chmodSync(dir, 0o777);
    const r = await env.peapod(['unshare', 'true']);
    expect(r.code).to.equal(125);
    expect(r.stderr).to.equal(`Error: runtime directory ${dir} is owned by uid 0 with mode 777; it must be a directory of this user alone (mode 0700): remove it, or set XDG_RUNTIME_DIR to a directory of yours\n`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
