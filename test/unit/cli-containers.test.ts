import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgv } from '../../src/cli/argv';
import { GLOBAL_FLAGS, ROOT } from '../../src/cli/commands';
import { KeySequence } from '../../src/cli/containers/attach-io';
import { EXIT_SCRIPT } from '../../src/cli/containers/exit-command';
import { invokeExitCode, runtimeMessage } from '../../src/cli/containers/exit-codes';
import { parseCpus, parseDetachKeys, parseEntrypoint, parseEnv, parseMemory, parseUser, parseVolume } from '../../src/cli/containers/flags';
import { compilePsFilters } from '../../src/cli/commands/ps';
import { parseSignal } from '../../src/cli/signal';
import { portMappingsOf } from '../../src/cli/port-mappings';
import { goDuration } from '../../src/cli/commands/top';
import { containerPath } from '../../src/cli/commands/cp';
import { portsText, rfc3339, statusText } from '../../src/cli/containers/view';
import type { ContainerRecord } from '../../src/runtime-service/container/record';

describe('CLI containers: flags and views', () => {
  it('run stops parsing flags at the image: the command keeps its own', () => {
    const p = parseArgv(ROOT, GLOBAL_FLAGS, ['run', '--rm', '-e', 'A=1', 'busybox', 'sh', '-c', 'exit 3', '--rm']);
    expect(p.kind).to.equal('run');
    if (p.kind !== 'run') return;
    expect(p.args).to.deep.equal(['busybox', 'sh', '-c', 'exit 3', '--rm']);
    expect(p.flags).to.include({ rm: true, network: 'bridge', pull: 'missing' });
    const e = parseArgv(ROOT, GLOBAL_FLAGS, ['exec', '-it', 'web', 'ls', '-l']);
    if (e.kind === 'run') expect(e.args).to.deep.equal(['web', 'ls', '-l']);
    const ps = parseArgv(ROOT, GLOBAL_FLAGS, ['ps', '-a', '--root', '/r']);
    if (ps.kind === 'run') expect(ps.globals.root).to.equal('/r');
  });

  it('env: files then -e, NAME alone from the caller, comments skipped; bad entries name the flag', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-env-'));
    const file = path.join(dir, 'env');
    fs.writeFileSync(file, '# comment\nA=from-file\n\nB=b=c\nHOMEISH\n');
    try {
      expect(parseEnv(['A=cli', 'C'], [file], { C: 'caller', HOMEISH: 'h' })).to.deep.equal([
        { name: 'A', value: 'cli' },
        { name: 'B', value: 'b=c' },
        { name: 'HOMEISH', value: 'h' },
        { name: 'C', value: 'caller' },
      ]);
      expect(parseEnv(['UNSET'], [], {})).to.deep.equal([]);
      expect(() => parseEnv(['=x'])).to.throw(/--env: "=x" is not NAME=VALUE/);
      expect(() => parseEnv([], [path.join(dir, 'none')])).to.throw(/--env-file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('volumes, ports, users, memory, cpus, entrypoint, detach keys', async () => {
    expect(parseVolume('/h:/c:ro,rslave,Z')).to.deep.equal({ hostPath: '/h', containerPath: '/c', readonly: true, propagation: 'slave' });
    expect(() => parseVolume('data:/c')).to.throw(/named volumes are not supported/);
    expect(() => parseVolume('/h:/c:bogus')).to.throw(/unknown option "bogus"/);
    // -p is pod create's parser (port-mappings.ts, tested in cli-pods.test.ts); a host port left out is picked free.
    const [random] = await portMappingsOf(['127.0.0.1::80']);
    expect(random).to.include({ containerPort: 80, hostIP: '127.0.0.1' });
    expect(random.hostPort).to.be.within(1, 65535);
    expect(parseUser('bob')).to.deep.equal({ name: 'bob' });
    expect(parseUser('1000:100')).to.deep.equal({ uid: 1000, gid: 100 });
    expect(() => parseUser('bob:staff')).to.throw(/GID/);
    expect(parseMemory('512m')).to.equal(512 * 1024 * 1024);
    expect(parseMemory('1g')).to.equal(1024 ** 3);
    expect(() => parseMemory('1k')).to.throw(/minimum memory limit is 6m/);
    expect(() => parseMemory('lots')).to.throw(/--memory "lots"/);
    expect(parseCpus('1.5')).to.deep.equal({ cpuQuota: 150000, cpuPeriod: 100000 });
    expect(() => parseCpus('0')).to.throw(/--cpus/);
    expect(parseEntrypoint('/bin/sh -c')).to.deep.equal(['/bin/sh -c']);
    expect(parseEntrypoint('["/bin/sh","-c"]')).to.deep.equal(['/bin/sh', '-c']);
    expect(parseDetachKeys(undefined)).to.deep.equal(Buffer.from([16, 17]));
    expect(parseDetachKeys('ctrl-a,x')).to.deep.equal(Buffer.from([1, 0x78]));
    expect(parseDetachKeys('')).to.equal(undefined);
    expect(() => parseDetachKeys('ctrl-1')).to.throw(/unknown key/);
  });

  it('the detach sequence is held back until it is or is not typed, across chunks', () => {
    const k = new KeySequence(Buffer.from([16, 17]));
    expect(k.feed(Buffer.from('ab\x10'))).to.deep.equal({ pass: Buffer.from('ab'), matched: false });
    expect(k.feed(Buffer.from('c'))).to.deep.equal({ pass: Buffer.from('\x10c'), matched: false });
    expect(k.feed(Buffer.from('\x10\x10'))).to.deep.equal({ pass: Buffer.from('\x10'), matched: false });
    expect(k.feed(Buffer.from('\x11rest'))).to.deep.equal({ pass: Buffer.from(''), matched: true });
  });

  it('the exit script skips while the attached process lives (pid and start time), and runs the cleanup otherwise', () => {
    const start = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    const run = (pid: string, st: string): string => execFileSync('/bin/sh', ['-c', EXIT_SCRIPT, 'x', pid, st, '/bin/echo', 'cleanup', 'a b'], { encoding: 'utf8' });
    expect(run(String(process.pid), start)).to.equal('');
    expect(run(String(process.pid), '1')).to.equal('cleanup a b\n'); // a reused pid is not the attached process
    expect(run('0', '0')).to.equal('cleanup a b\n');
    expect(run('4194303', '5')).to.equal('cleanup a b\n');
  });

  it('maps runtime failures to 127, 126, 125 and shows runc\'s own message', () => {
    const notFound = 'creating container "x": time="2026-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH"';
    expect(invokeExitCode(notFound)).to.equal(127);
    expect(runtimeMessage(notFound)).to.equal('runc: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH');
    expect(invokeExitCode('exec: "/etc": permission denied')).to.equal(126);
    expect(invokeExitCode('something else broke')).to.equal(125);
  });

  it('status, ports and times as Podman prints them; ps filters; signals; cp paths', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const ns = (iso: string): string => (BigInt(Date.parse(iso)) * 1_000_000n).toString();
    const rec = (over: Partial<ContainerRecord>): ContainerRecord => ({ id: 'ab'.repeat(32), metadata: { name: 'web', attempt: 0 }, labels: { app: 'x' }, imageId: 'sha256:' + 'c'.repeat(64), annotations: {}, image: { name: '', annotations: {}, userSpecified: 'busybox' }, state: 'created', exitCode: 0, startedAt: '0', finishedAt: '0', ...over }) as ContainerRecord;
    expect(statusText(rec({}), now)).to.equal('Created');
    expect(statusText(rec({ state: 'running', startedAt: ns('2026-01-01T00:07:00Z') }), now)).to.equal('Up 3 minutes ago');
    expect(statusText(rec({ state: 'exited', exitCode: 137, finishedAt: ns('2026-01-01T00:09:59.5Z') }), now)).to.equal('Exited (137) Less than a second ago');
    expect(portsText([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIP: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' }])).to.equal('0.0.0.0:8080->80/tcp, 127.0.0.1:53->53/udp');
    expect(rfc3339('0')).to.equal('0001-01-01T00:00:00Z');
    expect(rfc3339('1767225600123456789')).to.equal('2026-01-01T00:00:00.123456789Z');
    const keep = compilePsFilters(['status=exited', 'status=created', 'label=app=x', 'name!=db'], () => undefined);
    expect(keep(rec({}))).to.equal(true);
    expect(keep(rec({ state: 'running' }))).to.equal(false);
    expect(keep(rec({ metadata: { name: 'db', attempt: 0 } }))).to.equal(false);
    expect(() => compilePsFilters(['color=red'], () => undefined)).to.throw(/--filter "color=red"/);
    expect(compilePsFilters(['ancestor=busybox'], () => undefined)(rec({}))).to.equal(true);
    expect(parseSignal('hup')).to.equal('SIGHUP');
    expect(parseSignal('SIGKILL')).to.equal('SIGKILL');
    expect(parseSignal('15')).to.equal('15');
    expect(() => parseSignal('NOPE')).to.throw(/invalid signal/);
    expect(goDuration(271.311)).to.equal('4m31.311s');
    expect(goDuration(0)).to.equal('0s');
    expect(containerPath('web:/etc/hosts')).to.deep.equal({ container: 'web', path: '/etc/hosts' });
    expect(containerPath('./a:b')).to.equal(undefined);
    expect(containerPath('/abs/path')).to.equal(undefined);
  });
});
