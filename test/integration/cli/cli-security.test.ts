import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, CliResult, makeCliEnv } from './cli-harness';

/** The C source of the system-call probe (test/fixtures, beside the compiled tests' source). */
const PROBE_SOURCE = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'seccomp-probe.c');

/** Podman 4.3's default capability set as /proc/self/status shows it (CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT). */
const PODMAN_CAPS = '00000000800405fb';

/** The fields of /proc/self/status a test looks at (`Seccomp`, `CapEff`, `NoNewPrivs`, ...). */
function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** The probe's `CALL RESULT` lines as a map. */
function probeResults(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

describe('peapod CLI: the security of its containers (Podman\'s defaults, --security-opt, --cap-add/--cap-drop, --privileged, --read-only)', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let IMG = '';
  let probeDir = '';

  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}: ${r.stderr}`).to.equal(0);
    return r;
  };
  /** `run --rm --network none [flags] IMG sh -c SCRIPT`, which must succeed. */
  const runSh = async (flags: string[], script: string): Promise<string> => ok(await env.run(['run', '--rm', '--network', 'none', ...flags, IMG, 'sh', '-c', script]), `run ${flags.join(' ')}`).stdout;
  /** The container's /proc/self/status under `flags`. */
  const status = async (flags: string[]): Promise<Record<string, string>> => statusFields(await runSh(flags, 'cat /proc/self/status'));
  /** The probe's results in a container under `flags`. */
  const probe = async (flags: string[], calls: string[]): Promise<Record<string, string>> =>
    probeResults(ok(await env.run(['run', '--rm', '--network', 'none', '-v', `${probeDir}:/probe:ro`, ...flags, IMG, '/probe/seccomp-probe', ...calls]), `probe ${flags.join(' ')}`).stdout);

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage({ Cmd: ['sh'] }));
    IMG = `${registry.host}/library/busybox:latest`;
    env = makeCliEnv();
    probeDir = path.join(env.dir, 'probe');
    fs.mkdirSync(probeDir);
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', path.join(probeDir, 'seccomp-probe'), PROBE_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    ok(await env.run(['pull', '-q', IMG]), 'pull');
  });
  afterEach(async () => {
    await env.run(['rm', '-a', '-f', '-t', '0']);
    await env.run(['pod', 'rm', '-a', '-f', '-t', '0']);
  });
  after(async () => {
    env?.cleanup();
    await registry?.stop();
  });

  it('by default: the seccomp filter (Seccomp: 2), Podman\'s 11 capabilities, no no_new_privs; unshare -U is refused; ping_group_range lets every group ping', async () => {
    const s = await status([]);
    expect(s.Seccomp).to.equal('2');
    expect([s.CapEff, s.CapPrm, s.CapBnd, s.CapInh, s.CapAmb]).to.deep.equal([PODMAN_CAPS, PODMAN_CAPS, PODMAN_CAPS, '0000000000000000', '0000000000000000']);
    expect(s.NoNewPrivs).to.equal('0');
    const out = await runSh([], 'unshare -U true 2>/dev/null && echo allowed || echo blocked; cat /proc/sys/net/ipv4/ping_group_range');
    expect(out.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).to.deep.equal(['blocked', '0 0', '']);
  });

  it('the filter refuses new namespaces through clone (EPERM) and clone3 (ENOSYS), io_uring, keyctl and ASLR off; plain clone and harmless personalities pass', async () => {
    const r = await probe([], ['clone-newuser', 'clone-plain', 'clone3', 'unshare-user', 'io_uring_setup', 'keyctl', 'personality-norandom', 'personality-query', 'personality-linux32']);
    expect(r).to.deep.equal({
      'clone-newuser': 'EPERM',
      'clone-plain': 'ok',
      clone3: 'ENOSYS',
      'unshare-user': 'EPERM',
      io_uring_setup: 'EPERM',
      keyctl: 'EPERM',
      'personality-norandom': 'EPERM',
      'personality-query': 'ok',
      'personality-linux32': 'ok',
    });
    // Unconfined, the same calls reach the kernel: a user namespace needs no capability.
    const u = await probe(['--security-opt', 'seccomp=unconfined'], ['clone-newuser', 'clone3', 'unshare-user', 'io_uring_setup', 'personality-norandom']);
    expect(u['clone-newuser']).to.equal('ok');
    expect(u['unshare-user']).to.equal('ok');
    expect(u['personality-norandom']).to.equal('ok');
    expect(u.clone3).to.not.equal('ENOSYS');
    expect(u.io_uring_setup).to.equal('EFAULT');
  });

  it('--security-opt seccomp=unconfined: no filter (Seccomp: 0), unshare -U works', async () => {
    expect((await status(['--security-opt', 'seccomp=unconfined'])).Seccomp).to.equal('0');
    expect(await runSh(['--security-opt', 'seccomp=unconfined'], 'unshare -U true && echo allowed')).to.equal('allowed\n');
  });

  it('--security-opt seccomp=PROFILE.json: that profile instead (here one refusing mkdir and mkdirat)', async () => {
    const profile = path.join(env.dir, 'no-mkdir.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    const out = await runSh(['--security-opt', `seccomp=${profile}`], 'mkdir /tmp/d 2>/dev/null && echo made || echo refused; unshare -U true && echo unshare-allowed');
    expect(out).to.equal('refused\nunshare-allowed\n');
  });

  it('--cap-drop ALL empties every set; --cap-add adds to Podman\'s set; --security-opt no-new-privileges sets no_new_privs', async () => {
    const none = await status(['--cap-drop', 'ALL']);
    expect([none.CapEff, none.CapBnd, none.Seccomp]).to.deep.equal(['0000000000000000', '0000000000000000', '2']);
    // NET_ADMIN is bit 12, NET_RAW bit 13.
    const more = await status(['--cap-add', 'net_admin', '--cap-add', 'CAP_NET_RAW', '--cap-drop', 'KILL']);
    expect(BigInt(`0x${more.CapEff}`)).to.equal((BigInt(`0x${PODMAN_CAPS}`) | (1n << 12n) | (1n << 13n)) & ~(1n << 5n));
    const only = await status(['--cap-drop', 'ALL', '--cap-add', 'CHOWN']);
    expect(only.CapEff).to.equal('0000000000000001');
    expect((await status(['--security-opt', 'no-new-privileges'])).NoNewPrivs).to.equal('1');
    // CAP_SYS_ADMIN lifts the namespace rules of the filter, as moby's profile does.
    expect(await runSh(['--cap-add', 'SYS_ADMIN'], 'unshare -U true && echo allowed')).to.equal('allowed\n');
  });

  it('--privileged: no filter, every capability this host grants, the host\'s devices, /sys writable, nothing masked', async () => {
    const s = await status(['--privileged']);
    expect(s.Seccomp).to.equal('0');
    const own = statusFields(fs.readFileSync('/proc/self/status', 'utf8'));
    expect(s.CapEff).to.equal(own.CapBnd);
    // A host device beyond the runtime's defaults: the first character device directly under /dev.
    const extra = fs.readdirSync('/dev').find((n) => !['null', 'zero', 'full', 'random', 'urandom', 'tty', 'console', 'ptmx'].includes(n) && !n.startsWith('tty') && fs.statSync(path.join('/dev', n)).isCharacterDevice());
    // /proc/timer_list is masked (/dev/null bound over it: empty) unless privileged.
    const look = `test -c /dev/${extra ?? 'null'} && echo device || echo no-device; grep -q ' /sys sysfs rw,' /proc/self/mounts && echo sys-rw || echo sys-ro; [ "$(head -c 1 /proc/timer_list 2>/dev/null | wc -c)" = 1 ] && echo unmasked || echo masked`;
    expect(await runSh(['--privileged'], look)).to.equal('device\nsys-rw\nunmasked\n');
    expect(await runSh([], look)).to.equal(`${extra ? 'no-device' : 'device'}\nsys-ro\nmasked\n`);
  });

  it('--read-only: the root file system refuses writes; /dev/shm stays writable', async () => {
    expect(await runSh(['--read-only'], 'touch /x 2>/dev/null && echo wrote || echo refused; touch /dev/shm/x && echo shm')).to.equal('refused\nshm\n');
    expect(await runSh([], 'touch /x && echo wrote')).to.equal('wrote\n');
  });

  it('create and start, and a container joining a --pod, get the same defaults', async () => {
    const id = ok(await env.run(['create', '--network', 'none', IMG, 'cat', '/proc/self/status']), 'create').stdout.trim();
    const started = ok(await env.run(['start', '-a', id]), 'start -a');
    expect(statusFields(started.stdout).Seccomp).to.equal('2');
    expect(statusFields(started.stdout).CapEff).to.equal(PODMAN_CAPS);
    ok(await env.run(['pod', 'create', '--name', 'secpod', '--network', 'none']), 'pod create');
    const inPod = ok(await env.run(['run', '--rm', '--pod', 'secpod', IMG, 'sh', '-c', 'cat /proc/self/status; cat /proc/sys/net/ipv4/ping_group_range']), 'run --pod');
    expect(statusFields(inPod.stdout).Seccomp).to.equal('2');
    expect(statusFields(inPod.stdout).CapEff).to.equal(PODMAN_CAPS);
    expect(inPod.stdout.trim().split('\n').pop()!.split(/\s+/)).to.deep.equal(['0', '0']);
  });

  it('bad values: exit 125 and one Error: line naming the flag; nothing is made', async () => {
    const profile = path.join(env.dir, 'not-a-profile.json');
    fs.writeFileSync(profile, '{"syscalls": []}');
    const cases: [string[], RegExp][] = [
      [['--cap-add', 'FLY'], /^Error: --cap-add "FLY": unknown capability/],
      [['--cap-drop', 'CAP_NOPE'], /^Error: --cap-drop "CAP_NOPE": unknown capability/],
      [['--cap-add', 'NET_RAW', '--cap-drop', 'net_raw'], /^Error: --cap-add CAP_NET_RAW and --cap-drop CAP_NET_RAW: /],
      [['--cap-add', 'ALL', '--cap-drop', 'ALL'], /^Error: --cap-add ALL and --cap-drop ALL: /],
      [['--security-opt', 'seccomp=/no/such/profile.json'], /^Error: --security-opt "seccomp=\/no\/such\/profile.json": cannot read the seccomp profile: /],
      [['--security-opt', `seccomp=${profile}`], /^Error: --security-opt ".*": not an OCI seccomp profile/],
      [['--security-opt', 'no-new-privileges=maybe'], /^Error: --security-opt "no-new-privileges=maybe": /],
      [['--security-opt', 'bogus'], /^Error: --security-opt "bogus": invalid option/],
    ];
    for (const [flags, message] of cases) {
      const r = await env.run(['run', '--rm', ...flags, IMG, 'true']);
      expect(r.code, flags.join(' ')).to.equal(125);
      expect(r.stderr.trim().split('\n'), flags.join(' ')).to.have.length(1);
      expect(r.stderr, flags.join(' ')).to.match(message);
    }
    expect((await env.run(['ps', '-a', '-q'])).stdout).to.equal('');
  });
});
