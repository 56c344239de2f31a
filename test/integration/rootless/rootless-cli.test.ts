import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { readSubordinateIds } from '../../../src/common/userns';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { freePort, startRegistry, TestRegistry } from '../harness/registry';
import { createTempUser, HostUser, makeRootlessEnv, rootlessTestUser, RootlessEnv, RunResult, TempUser, TestUser } from './rootless-harness';

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

/** Every path under `dir` (itself included) whose owner is not `uid` on the host, or whose group is not `gid`. */
function ownedByOthers(dir: string, ids: (uid: number, gid: number) => boolean): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    if (!ids(st.uid, st.gid)) out.push(`${p} ${st.uid}:${st.gid}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return out;
}

describe('rootless peapod: the container commands as an unprivileged user', function () {
  this.timeout(300_000);
  let registry: TestRegistry;
  let testUser: TestUser;
  let user: HostUser;
  let env: RootlessEnv;
  let range: { start: number; count: number };
  let ref: string;

  /** `peapod ARGS` as the user; asserts exit 0 unless `code` is given. */
  async function peapod(args: string[], code: number | null = 0, e: RootlessEnv = env): Promise<RunResult> {
    const r = await e.peapod(args, { timeoutMs: 120_000 });
    if (code !== null) expect(r.code, `peapod ${args.join(' ')}: ${r.stderr}`).to.equal(code);
    return r;
  }

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage());
    testUser = rootlessTestUser();
    user = testUser.user;
    [range] = readSubordinateIds('/etc/subuid', { name: user.name, id: user.uid });
    env = makeRootlessEnv(user);
    ref = `${registry.host}/library/busybox:latest`;
    await peapod(['pull', '-q', ref]);
  });
  after(async () => {
    await env?.cleanup();
    testUser?.release();
    await registry?.stop();
  });

  it('run --rm: the container is uid 0, mapped to the user and its subordinate range; nothing is left', async () => {
    const r = await peapod(['run', '--rm', ref, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    const lines = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter(Boolean);
    expect(lines).to.deep.equal(['0', `0 ${user.uid} 1`, `1 ${range.start} ${range.count}`]);
    expect((await peapod(['ps', '-a', '-q'])).stdout.trim()).to.equal('');
  });

  it('run --rm on the default network: its slirp4netns is up when the process starts (tap0 10.0.2.100/24, the default route via 10.0.2.2, lo up)', async () => {
    // `run` does not wait for slirp4netns before making the container, only before starting it (rootless-network.ts).
    // busybox's ping opens a raw socket (no ICMP datagram fallback): it needs CAP_NET_RAW, which Podman's default set leaves out.
    const r = await peapod(['run', '--rm', '--cap-add', 'NET_RAW', ref, 'sh', '-c', 'ip -4 -o addr show tap0; ip route show default; ip -o link show lo; ping -c 1 -W 5 127.0.0.1 >/dev/null && echo lo-answers']);
    expect(r.stdout).to.match(/tap0\s+inet 10\.0\.2\.100\/24/);
    expect(r.stdout).to.match(/^default via 10\.0\.2\.2 dev tap0/m);
    // Brought up by slirp4netns' --configure, not by the pins (rootless-network.ts pinsBringLoopbackUp).
    expect(r.stdout).to.match(/^1: lo: <LOOPBACK,UP,LOWER_UP>/m);
    expect(r.stdout).to.match(/^lo-answers$/m);
  });

  it('the seccomp filter and Podman\'s capabilities hold under the user namespace; --security-opt seccomp=unconfined, --cap-drop ALL and --privileged change them', async () => {
    const look = "grep -E '^(Seccomp|CapEff):' /proc/self/status | tr -s ' \\t' ' '; unshare -U true 2>/dev/null && echo unshare-allowed || echo unshare-blocked";
    const lines = async (flags: string[]): Promise<string[]> => (await peapod(['run', '--rm', '--network', 'none', ...flags, ref, 'sh', '-c', look])).stdout.trim().split('\n');
    expect(await lines([])).to.deep.equal(['CapEff: 00000000800405fb', 'Seccomp: 2', 'unshare-blocked']);
    expect(await lines(['--security-opt', 'seccomp=unconfined'])).to.deep.equal(['CapEff: 00000000800405fb', 'Seccomp: 0', 'unshare-allowed']);
    expect((await lines(['--cap-drop', 'ALL']))[0]).to.equal('CapEff: 0000000000000000');
    const priv = await lines(['--privileged']);
    expect(priv[1]).to.equal('Seccomp: 0');
    expect(BigInt(`0x${priv[0].split(' ')[1]}`) & (1n << 21n), 'CAP_SYS_ADMIN in the user namespace').to.not.equal(0n);
  });

  it('a file a container writes in a -v volume belongs to the user on the host', async () => {
    const vol = path.join(env.home, 'vol');
    fs.mkdirSync(vol);
    fs.chownSync(vol, user.uid, user.gid);
    await peapod(['run', '--rm', '-v', `${vol}:/vol`, ref, 'sh', '-c', 'echo hi > /vol/made-inside']);
    const st = fs.statSync(path.join(vol, 'made-inside'));
    expect([st.uid, st.gid]).to.deep.equal([user.uid, user.gid]);
    expect(fs.readFileSync(path.join(vol, 'made-inside'), 'utf8')).to.equal('hi\n');
  });

  it('images, run -d, exec, logs, stop, rm', async () => {
    expect((await peapod(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n')).to.include(ref);
    const id = (await peapod(['run', '-d', '--name', 'bg', ref, 'sh', '-c', 'echo started; exec sleep 600'])).stdout.trim();
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const ex = await peapod(['exec', 'bg', 'sh', '-c', 'id -u; echo from-exec']);
    expect(ex.stdout.split('\n').filter(Boolean)).to.deep.equal(['0', 'from-exec']);
    let logs = '';
    const end = Date.now() + 30_000;
    while (!logs.includes('started') && Date.now() < end) logs = (await peapod(['logs', 'bg'])).stdout;
    expect(logs).to.equal('started\n');
    expect((await peapod(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout).to.match(/^bg Up/m);
    await peapod(['stop', '-t', '1', 'bg']);
    expect((await peapod(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout).to.match(/^bg Exited/m);
    await peapod(['rm', 'bg']);
    expect((await peapod(['ps', '-a', '-q'])).stdout.trim()).to.equal('');
  });

  it('-p publishes a port on the host loopback through slirp4netns', async () => {
    const port = await freePort();
    await peapod(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:8080`, ref, 'sh', '-c', 'while true; do echo hello from rootless | nc -l -p 8080; done']);
    try {
      let got = '';
      const end = Date.now() + 30_000;
      while (!got.includes('hello from rootless') && Date.now() < end) got = await readFrom(port);
      expect(got).to.contain('hello from rootless');
      expect((await peapod(['port', 'web'])).stdout.trim()).to.equal(`8080/tcp -> 127.0.0.1:${port}`);
    } finally {
      await peapod(['rm', '-f', 'web']);
    }
    // The forwarder went with the container.
    expect(await readFrom(port)).to.equal('');
  });

  it('start after the slirp4netns of a run -d container died: a new one is started, the published port answers again', async () => {
    const port = await freePort();
    const sandboxes = path.join(env.runtimeDir!, 'peapod', 'sandboxes');
    const before = new Set(fs.existsSync(sandboxes) ? fs.readdirSync(sandboxes) : []);
    await peapod(['run', '-d', '--name', 'revive', '-p', `127.0.0.1:${port}:8080`, ref, 'sh', '-c', 'while true; do echo revived | nc -l -p 8080; done']);
    try {
      const answers = async (): Promise<string> => {
        let got = '';
        const end = Date.now() + 30_000;
        while (!got.includes('revived') && Date.now() < end) got = await readFrom(port);
        return got;
      };
      expect(await answers()).to.contain('revived');
      const own = fs.readdirSync(sandboxes).filter((d) => !before.has(d));
      expect(own).to.have.length(1);
      const stateFile = path.join(sandboxes, own[0], 'slirp4netns.json');
      const slirp = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number };
      process.kill(slirp.pid, 'SIGKILL');
      const gone = Date.now() + 10_000;
      while (fs.existsSync(`/proc/${slirp.pid}/stat`) && !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${slirp.pid}/stat`, 'utf8')) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
      expect(await readFrom(port)).to.equal('');
      await peapod(['stop', '-t', '0', 'revive']);
      await peapod(['start', 'revive']);
      const now = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number };
      expect(now.pid).to.not.equal(slirp.pid);
      expect(await answers()).to.contain('revived');
    } finally {
      await peapod(['rm', '-f', '-t', '0', 'revive'], null);
    }
    expect(await readFrom(port)).to.equal('');
  });

  it('pod create -p: two containers of the pod talk over localhost in its one slirp4netns namespace; the published port reaches them from host loopback', async () => {
    const port = await freePort();
    const podId = (await peapod(['pod', 'create', '--name', 'duo', '-p', `127.0.0.1:${port}:8081`])).stdout.trim();
    expect(podId).to.match(/^[0-9a-f]{64}$/);
    try {
      const inspect = JSON.parse((await peapod(['pod', 'inspect', 'duo'])).stdout) as { InfraConfig: { IP: string } } | { InfraConfig: { IP: string } }[];
      expect((Array.isArray(inspect) ? inspect[0] : inspect).InfraConfig.IP).to.equal('10.0.2.100');
      await peapod(['run', '-d', '--pod', 'duo', '--name', 'srv', ref, 'sh', '-c', 'nc -ll -p 8081 -e echo hello over localhost']);
      let got = '';
      const end = Date.now() + 30_000;
      while (!got.includes('hello over localhost') && Date.now() < end) got = (await peapod(['run', '--rm', '--pod', 'duo', ref, 'nc', '127.0.0.1', '8081'], null)).stdout;
      expect(got).to.equal('hello over localhost\n');
      expect(await readFrom(port)).to.equal('hello over localhost\n');
      const resolv = await peapod(['run', '--rm', '--pod', 'duo', ref, 'cat', '/etc/resolv.conf']);
      expect(resolv.stdout).to.equal('nameserver 10.0.2.3\n');
      // Stopped, the pod's slirp4netns goes; started again, a new one publishes the port again.
      await peapod(['pod', 'stop', '-t', '0', 'duo']);
      expect(await readFrom(port)).to.equal('');
      await peapod(['pod', 'start', 'duo']);
      let again = '';
      const end2 = Date.now() + 30_000;
      while (!again.includes('hello over localhost') && Date.now() < end2) again = await readFrom(port);
      expect(again).to.equal('hello over localhost\n');
    } finally {
      await peapod(['pod', 'rm', '-f', '-t', '0', 'duo']);
    }
    expect((await peapod(['pod', 'ps', '-q'])).stdout.trim()).to.equal('');
    expect((await peapod(['ps', '-a', '-q'])).stdout.trim()).to.equal('');
    // Its slirp4netns went with it.
    expect(await readFrom(port)).to.equal('');
  });

  it("a command root never ran keeps its code cache in the user's cache directory, the user's alone, and uses it from then on", async () => {
    // `unshare` fails as root (125), so no root run leaves its cache beside the bundle, which the user cannot write.
    const dist = path.resolve(__dirname, '..', '..', '..', 'src', 'cli', 'peapod.bundle.cache');
    expect(fs.existsSync(path.join(dist, 'unshare.cache'))).to.equal(false);
    await peapod(['unshare', 'true']);
    const base = path.join(env.home, '.cache', 'peapod', 'bundle-cache');
    const dirs = fs.readdirSync(base);
    expect(dirs).to.have.length(1);
    const file = path.join(base, dirs[0], 'unshare.cache');
    const st = fs.statSync(file);
    expect([st.uid, st.mode & 0o022]).to.deep.equal([user.uid, 0]);
    expect(fs.statSync(path.join(base, dirs[0])).mode & 0o777).to.equal(0o700);
    expect(st.size).to.be.greaterThan(10_000);
    // Accepted by the next run, so not written again.
    await peapod(['unshare', 'true']);
    expect(fs.statSync(file).mtimeMs).to.equal(st.mtimeMs);
    expect(fs.existsSync(path.join(dist, 'unshare.cache'))).to.equal(false);
  });

  it("the user's store has nothing owned by host root, only by the user and its range", async () => {
    const store = path.join(env.home, '.local/share/peapod');
    const inRange = (id: number, own: number): boolean => id === own || (id >= range.start && id < range.start + range.count);
    expect(ownedByOthers(store, (u, g) => inRange(u, user.uid) && inRange(g, user.gid))).to.deep.equal([]);
    expect(fs.statSync(store).mode & 0o777).to.equal(0o700);
  });

  it("a second user's store and containers are invisible to the first", async () => {
    let other: TempUser | undefined;
    let env2: RootlessEnv | undefined;
    try {
      other = createTempUser();
      env2 = makeRootlessEnv(other);
      // A running container of the first user.
      await peapod(['run', '-d', '--name', 'mine', ref, 'sleep', '600']);
      const ps = await peapod(['ps', '-a', '--format', '{{.Names}}'], 0, env2);
      expect(ps.stdout.trim()).to.equal('');
      const imgs = await peapod(['images', '-q'], 0, env2);
      expect(imgs.stdout.trim()).to.equal('');
      const rm = await peapod(['rm', '-f', 'mine'], null, env2);
      expect(rm.code).to.not.equal(0);
      // The first user's store is closed to the second.
      const look = await env2.exec('ls', [path.join(env.home, '.local/share/peapod')]);
      expect(look.code).to.not.equal(0);
      expect(look.stderr).to.contain('Permission denied');
      expect((await peapod(['ps', '--format', '{{.Names}}'])).stdout.trim()).to.equal('mine');
    } finally {
      await peapod(['rm', '-f', 'mine'], null);
      await env2?.cleanup();
      other?.remove();
    }
  });
});
