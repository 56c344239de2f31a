import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { conmonCreateArgs } from '../../src/conmon/driver';
import { writeExecProcess } from '../../src/runtime-service/container/exec-process';
import { chunkBytes, parseLogRecords, readLogFrom, tailLog } from '../../src/runtime-service/container/log-reader';
import type { ContainerRecord } from '../../src/runtime-service/container/record';
import { nextRecord } from '../../src/runtime-service/container/state';
import { ContainerStore } from '../../src/runtime-service/container/store';
import { openStateDb, StateDb } from '../../src/runtime-service/state-db';

/** A record as the store needs it. */
function record(id: string, owner: 'cri' | 'cli', pod: string, name: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    version: 1,
    id,
    owner,
    sandboxId: pod,
    metadata: { name, attempt: 0 },
    state: 'created',
    createdAt: String(Date.now()) + '000000',
    startedAt: '0',
    finishedAt: '0',
    exitCode: 0,
    reason: '',
    message: '',
    image: { name: 'img', annotations: {}, userSpecified: '' },
    imageId: 'sha256:' + 'a'.repeat(64),
    imageRef: '',
    labels: {},
    annotations: {},
    mounts: [],
    logPath: '',
    runtimeHandler: '',
    stopSignal: 'SIGTERM',
    pid: 0,
    bundle: '/nonexistent',
    rootfs: '/nonexistent/rootfs',
    upperDir: '',
    workDir: '',
    persistDir: '',
    cgroupsPath: '',
    resources: null,
    tty: false,
    stdin: false,
    stdinOnce: false,
    ...extra,
  };
}

describe('container domain additions for the CLI', () => {
  it('the recreated edge: only from exited, back to created with the last run cleared', () => {
    const exited = { ...record('c1', 'cli', 'p', 'n'), state: 'exited' as const, startedAt: '5', finishedAt: '9', exitCode: 3, reason: 'Error', message: 'x', pid: 0 };
    const again = nextRecord(exited, { type: 'recreated', pid: 77 });
    expect(again).to.include({ state: 'created', pid: 77, startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '' });
    expect(() => nextRecord(record('c1', 'cli', 'p', 'n', { state: 'running' }), { type: 'recreated', pid: 1 })).to.throw('container c1 is running: only an exited container can be made again');
  });

  it("conmon gets the exit command as --exit-command and one --exit-command-arg per further word", () => {
    const base = { id: 'c', bundle: '/b', runtimePath: '/r', runtimeRoot: '/rr', pidFile: '/p', conmonPidFile: '/cp', logPath: '/l', exitDir: '/e', socketDir: '/s', persistDir: '/pd', terminal: false, stdin: false, systemdCgroup: false };
    expect(conmonCreateArgs(base)).to.not.include('--exit-command');
    const args = conmonCreateArgs({ ...base, exitCommand: ['/bin/sh', '-c', 'x y', 'a'] });
    const i = args.indexOf('--exit-command');
    expect(args.slice(i)).to.deep.equal(['--exit-command', '/bin/sh', '--exit-command-arg', '-c', '--exit-command-arg', 'x y', '--exit-command-arg', 'a']);
  });

  describe('ContainerStore: unique names per owner, lookups by name, another owner\'s list', () => {
    let dir: string;
    let state: StateDb;
    let cri: StateDb;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-ctrstore-'));
      state = openStateDb(dir, 'cli');
      cri = openStateDb(dir, 'cri');
    });
    afterEach(() => {
      state.close();
      cri.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('refuses a name another CLI container has in another pod only with uniqueName; never looks at the other owner', () => {
      const cli = new ContainerStore(state, path.join(dir, 'containers'));
      const crist = new ContainerStore(cri, path.join(dir, 'containers'));
      cli.insert(record('a'.repeat(64), 'cli', 'pod1', 'web'));
      cli.insert(record('b'.repeat(64), 'cli', 'pod2', 'web')); // the CRI rule: per pod
      expect(() => cli.insert(record('c'.repeat(64), 'cli', 'pod3', 'web'), { uniqueName: true })).to.throw(/the container name "web" is already in use by a{64}/);
      crist.insert(record('d'.repeat(64), 'cri', 'pod4', 'api'));
      cli.insert(record('e'.repeat(64), 'cli', 'pod5', 'api'), { uniqueName: true }); // peapod-cri's names are its own
      expect(() => cli.insert(record('a'.repeat(64), 'cli', 'pod6', 'other'))).to.throw(/a container with ID a{64} already exists/);
      expect(cli.findByName('web').map((r) => r.id)).to.deep.equal(['a'.repeat(64), 'b'.repeat(64)]);
      expect(cli.findByName('api').map((r) => r.id)).to.deep.equal(['e'.repeat(64)]);
      expect(cli.listOf('cri').map((r) => r.id)).to.deep.equal(['d'.repeat(64)]);
      expect(cli.list().map((r) => r.owner)).to.deep.equal(['cli', 'cli', 'cli']);
    });

    it("findShared answers list()'s frozen record, the same object until any connection commits, by full ID or unique prefix", () => {
      const crist = new ContainerStore(cri, path.join(dir, 'containers'));
      const otherDb = openStateDb(dir, 'cri');
      const other = new ContainerStore(otherDb, path.join(dir, 'containers'));
      const id = 'd'.repeat(64);
      crist.insert(record(id, 'cri', 'pod4', 'api'));
      const first = crist.findShared(id)!;
      expect(Object.isFrozen(first)).to.equal(true);
      expect(crist.findShared(id)).to.equal(first);
      expect(crist.findShared('ddd')).to.equal(first);
      expect(crist.list()[0]).to.equal(first);
      expect(crist.findShared('e'.repeat(64))).to.equal(undefined);
      expect(crist.findShared('')).to.equal(undefined);
      // Another connection's commit (another process, e.g. a second server on the root): a new object with the change.
      other.transition(id, { type: 'started', startedAt: 5n });
      const after = crist.findShared(id)!;
      expect(after).to.not.equal(first);
      expect(after.state).to.equal('running');
      // A CLI container is never the CRI's.
      new ContainerStore(state, path.join(dir, 'containers')).insert(record('a'.repeat(64), 'cli', 'pod1', 'web'));
      expect(crist.findShared('a'.repeat(64))).to.equal(undefined);
      otherDb.close();
    });
  });

  describe('the byte-exact log reader', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-logread-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const rec = (stream: string, tag: string, content: Buffer): Buffer => Buffer.concat([Buffer.from(`2026-01-01T00:00:00.000000001Z ${stream} ${tag} `), content, Buffer.from('\n')]);

    it('gives back exactly the bytes printed, binary and invalid UTF-8 included', () => {
      const binary = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0d, 0x1b]);
      const log = Buffer.concat([rec('stdout', 'P', binary), rec('stdout', 'F', Buffer.from('end')), rec('stderr', 'F', Buffer.from('')), rec('stdout', 'P', Buffer.from('tail'))]);
      const { chunks, used } = parseLogRecords(Buffer.concat([log, Buffer.from('2026-01-01T00:00:00Z stdout F incompl')]));
      expect(used).to.equal(log.length);
      const stdout = Buffer.concat(chunks.filter((c) => c.stream === 'stdout').map(chunkBytes));
      expect(stdout.equals(Buffer.concat([binary, Buffer.from('end\ntail')]))).to.equal(true);
      expect(Buffer.concat(chunks.filter((c) => c.stream === 'stderr').map(chunkBytes)).toString()).to.equal('\n');
    });

    it('reads from an offset, a record longer than the read window whole, and the last lines for --tail', () => {
      const file = path.join(dir, 'log');
      const long = Buffer.alloc(600 * 1024, 0x61);
      fs.writeFileSync(file, Buffer.concat([rec('stdout', 'F', Buffer.from('one')), rec('stdout', 'F', long), rec('stderr', 'F', Buffer.from('two')), rec('stdout', 'P', Buffer.from('thr')), rec('stdout', 'F', Buffer.from('ee'))]));
      const first = readLogFrom(file, 0, 64);
      expect(first.chunks.map((c) => c.content.toString())).to.deep.equal(['one']);
      const second = readLogFrom(file, first.offset, 64);
      expect(second.chunks.length).to.be.at.least(1);
      expect(second.chunks[0].content.length).to.equal(long.length);
      expect(tailLog(file, 2).map((c) => c.content.toString())).to.deep.equal(['two', 'thr', 'ee']);
      expect(tailLog(file, 0)).to.deep.equal([]);
      expect(readLogFrom(path.join(dir, 'none'), 5)).to.deep.equal({ chunks: [], offset: 5 });
    });
  });

  describe('exec overrides', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-execproc-'));
      fs.mkdirSync(path.join(dir, 'rootfs', 'etc'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n');
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ process: { args: ['sh'], env: ['PATH=/bin', 'A=1'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: false } }));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('changes env, user (from the container\'s passwd) and working directory of the exec only', () => {
      const r = record('f'.repeat(64), 'cli', 'p', 'n', { bundle: dir, rootfs: path.join(dir, 'rootfs') });
      const work = writeExecProcess(r, ['id'], true, { env: [{ name: 'A', value: '2' }, { name: 'B', value: '3' }], user: { name: 'bob' }, workingDir: '/tmp' });
      const proc = JSON.parse(fs.readFileSync(work.processFile, 'utf8'));
      expect(proc).to.deep.include({ args: ['id'], terminal: true, cwd: '/tmp', env: ['PATH=/bin', 'A=2', 'B=3', 'TERM=xterm'] });
      expect(proc.user).to.deep.include({ uid: 1000, gid: 1000 });
      expect(() => writeExecProcess(r, ['id'], false, { workingDir: 'rel' })).to.throw(/must be absolute/);
      expect(() => writeExecProcess(r, ['id'], false, { user: { name: 'nobody' } })).to.throw(/user "nobody" not found/);
    });
  });
});
