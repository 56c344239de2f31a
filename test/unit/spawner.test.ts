import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostProcess, runHostCommand, spawnHostProcess, spawnServerPid, startSpawnServer, stopSpawnServer } from '../../src/common/host/command';
import { SPAWNER_BINARY, SpawnedProcess, SpawnServer } from '../../src/common/host/spawner';

/** stdout of a child until it closes, with its exit code and signal. */
function collect(child: HostProcess): Promise<{ out: string; err: string; code: number | null; signal: NodeJS.Signals | null }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ out, err, code, signal }));
  });
}

/** Field `key` of /proc/<pid>/status. */
function statusField(pid: number, key: string): string {
  const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? m[1] : '';
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('spawn server (peapod-spawner)', function () {
  this.timeout(60_000);
  let server: SpawnServer;
  before(async function () {
    if (!fs.existsSync(SPAWNER_BINARY)) throw new Error(`${SPAWNER_BINARY} is not built (npm run build needs gcc)`);
    server = await SpawnServer.start();
  });
  after(() => server?.close());

  const run = (file: string, args: string[], opts: Partial<Parameters<SpawnServer['spawn']>[0]> = {}): SpawnedProcess =>
    server.spawn({ file, args, stdio: ['pipe', 'pipe', 'pipe'], env: process.env, detached: false, ...opts });

  it('runs a program with its arguments, environment, working directory and stdin; reports output and exit code', async () => {
    const child = run('sh', ['-c', 'read line; echo "$line/$FOO/$(pwd)/$1"; echo oops >&2; exit 7', 'sh', 'arg1'], { env: { FOO: 'bar', PATH: '/usr/bin:/bin' }, cwd: os.tmpdir() });
    child.stdin!.end('typed\n');
    const r = await collect(child);
    expect(r).to.deep.equal({ out: `typed/bar/${fs.realpathSync(os.tmpdir())}/arg1\n`, err: 'oops\n', code: 7, signal: null });
    expect(child.pid).to.be.a('number');
  });

  it("gives a child this process's whole environment when it is given process.env", async () => {
    const r = await collect(run('env', ['-0'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const got = Object.fromEntries(r.out.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    expect(got).to.deep.equal(process.env);
    expect(r.code).to.equal(0);
  });

  it('is the parent of its children: this process is not forked', async () => {
    const r = await collect(run('sh', ['-c', 'echo $PPID']));
    expect(Number(r.out)).to.equal(server.helperPid).and.not.equal(process.pid);
  });

  it('starts children as libuv does: default signals, nothing blocked, only the given fds open', async () => {
    const r = await collect(run('sh', ['-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status; ls /proc/self/fd']));
    const [blk, ign, ...fds] = r.out.trim().split('\n');
    expect(blk).to.match(/^SigBlk:\s+0+$/);
    expect(ign).to.match(/^SigIgn:\s+0+$/);
    // 0, 1, 2 and the fd ls reads the directory with
    expect(fds.length).to.equal(4);
  });

  it('gives extra fds (conmon\'s sync and start pipes) and /dev/null for ignored ones', async () => {
    const child = run('sh', ['-c', 'read x <&4; echo "got $x" >&3; cat; readlink /proc/self/fd/0 >&3'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    let fd3 = '';
    (child.stdio[3] as net.Socket).on('data', (d: Buffer) => (fd3 += d.toString()));
    (child.stdio[4] as net.Socket).end('start\n');
    const r = await collect(child);
    expect(r.code).to.equal(0);
    expect(fd3).to.equal('got start\n/dev/null\n');
    expect(child.stdin).to.equal(null);
  });

  it('reports a program that cannot be run as Node does: error with ENOENT, then close with -2', async () => {
    const child = run('/nonexistent/program', []);
    const events: unknown[] = [];
    child.on('error', (e: NodeJS.ErrnoException) => events.push(['error', e.message, e.code, e.errno]));
    await new Promise<void>((resolve) => child.on('close', (code, signal) => (events.push(['close', code, signal]), resolve())));
    expect(events).to.deep.equal([
      ['error', 'spawn /nonexistent/program ENOENT', 'ENOENT', -2],
      ['close', -2, null],
    ]);
    const inPath = run('no-such-program-anywhere', []);
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => inPath.on('error', resolve));
    expect(err.code).to.equal('ENOENT');
    const badCwd = run('true', [], { cwd: '/nonexistent-dir' });
    expect((await new Promise<NodeJS.ErrnoException>((resolve) => badCwd.on('error', resolve))).code).to.equal('ENOENT');
  });

  it('reports death by signal, and a kill sent before the pid is known', async () => {
    const child = run('sleep', ['30']);
    child.kill('SIGKILL');
    const r = await collect(child);
    expect([r.code, r.signal]).to.deep.equal([null, 'SIGKILL']);
    expect(child.kill()).to.equal(false);
  });

  it('starts a detached child in its own session', async () => {
    const child = run('sh', ['-c', 'cut -d" " -f6 /proc/self/stat; echo $$'], { detached: true });
    const [sid, pid] = (await collect(child)).out.trim().split('\n');
    expect(sid).to.equal(pid);
  });

  it('runs 200 children at once, each with its own output', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => collect(run('echo', [`child ${i}`]))));
    results.forEach((r, i) => expect(r).to.deep.include({ out: `child ${i}\n`, code: 0 }));
  });

  it('carries 16 MiB of output with backpressure', async () => {
    const child = run('head', ['-c', String(16 << 20), '/dev/zero']);
    let bytes = 0;
    child.stdout!.on('data', (d: Buffer) => {
      bytes += d.length;
      child.stdout!.pause();
      setImmediate(() => child.stdout!.resume());
    });
    const r = await collect(child);
    expect([r.code, bytes]).to.deep.equal([0, 16 << 20]);
  });

  it('reaps a process a child left behind (it is a subreaper): no zombie stays', async () => {
    const child = run('sh', ['-c', 'sh -c "sleep 0.1" >/dev/null 2>&1 & echo $!']);
    const left = Number((await collect(child)).out);
    expect(left).to.be.greaterThan(0);
    // Gone from /proc altogether: a zombie would keep its entry until its new parent, the helper, reaps it.
    await until(() => !fs.existsSync(`/proc/${left}`), 10_000, 'the left process to be reaped');
  });

  describe('detached runs (ExecSync\'s runc exec --detach)', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-detached-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const script = (name: string, text: string): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const detached = (file: string, extra: Partial<Parameters<SpawnServer['runDetached']>[0]> = {}) => {
      const pidFile = path.join(dir, 'left.pid');
      const out = { stdout: '', stderr: '' };
      const run = server.runDetached({ file: 'sh', args: [file, pidFile], env: process.env, pidFile, maxOutputBytes: 1 << 20, onOutput: (s, d) => (out[s] += d.toString('latin1')), ...extra });
      return { run, out, pidFile };
    };

    it('forwards both outputs, reads and removes the pid file, ends once the left process has, past a background holder', async () => {
      // The left process leaves a sleep holding both outputs; the run ends when the left process does.
      const file = script('left.sh', `sh -c 'sleep 60 & echo "bg $!"; sleep 0.3; echo late; echo oops >&2; exit 5' &\necho $! > "$1"\necho runner\n`);
      let seen: number | undefined;
      const { run, out, pidFile } = detached(file, { onLeft: (pid) => (seen = pid) });
      const end = await run.ended;
      const bg = Number(/bg (\d+)/.exec(out.stdout)?.[1]);
      try {
        expect(end).to.deep.equal({ child: { code: 0, signal: null }, left: { code: 5, signal: null } });
        expect(seen).to.be.a('number').and.equal(run.leftPid);
        expect(run.childPid).to.be.a('number');
        expect(out.stdout).to.include('runner\n').and.include('late\n');
        expect(out.stderr).to.equal('oops\n');
        expect(fs.existsSync(pidFile), 'the pid file is removed').to.equal(false);
        expect(fs.existsSync(`/proc/${bg}`), 'the background holder still runs').to.equal(true);
      } finally {
        if (bg > 0) process.kill(bg, 'SIGKILL');
      }
    });

    it('delivers at most maxOutputBytes of each output, and reports a child that left no process', async () => {
      const file = script('big.sh', 'head -c 300000 /dev/zero; head -c 50 /dev/zero >&2; exit 3\n');
      const { run, out } = detached(file, { maxOutputBytes: 1000 });
      expect(await run.ended).to.deep.equal({ child: { code: 3, signal: null }, left: null });
      expect(out.stdout.length).to.equal(1000);
      expect(out.stderr.length).to.equal(50);
    });

    it('reports a left process killed by a signal, and a child killed before it named one', async () => {
      const file = script('sig.sh', `sh -c 'sleep 0.2; kill -TERM $$' &\necho $! > "$1"\n`);
      expect((await detached(file).run.ended).left).to.deep.equal({ code: null, signal: 'SIGTERM' });
      const slow = script('slow.sh', 'sleep 30\n');
      const { run } = detached(slow);
      run.killChild('SIGKILL');
      expect(await run.ended).to.deep.equal({ child: { code: null, signal: 'SIGKILL' }, left: null });
    });

    it('rejects with the spawn error when the program cannot be run', async () => {
      const pidFile = path.join(dir, 'x.pid');
      const run = server.runDetached({ file: path.join(dir, 'missing'), args: [], env: process.env, pidFile, maxOutputBytes: 10, onOutput: () => undefined });
      const err = await run.ended.then(() => undefined, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal('ENOENT');
      expect(err?.syscall).to.match(/^spawn /);
    });
  });

  it('accepts connections from its parent only', async () => {
    const name = fs.readFileSync(`/proc/${server.helperPid}/cmdline`, 'utf8').split('\0')[1];
    // Exit code 0: the helper closed the connection; 3: it kept it; 1: could not connect.
    const other = spawn(process.execPath, [
      '-e',
      `const s = require('net').connect(${JSON.stringify(`\0${name}`)}); s.on('connect', () => s.write(Buffer.alloc(8))); s.on('error', (e) => process.exit(e.code === 'EPIPE' || e.code === 'ECONNRESET' ? 0 : 1)); s.on('close', () => process.exit(0)); s.resume(); setTimeout(() => process.exit(3), 5000);`,
    ]);
    const code = await new Promise((r) => other.on('exit', r));
    expect(code).to.equal(0);
  });
});

describe('spawnHostProcess with the spawn server', function () {
  this.timeout(60_000);
  afterEach(() => stopSpawnServer());

  it('goes through the helper once started, and back to Node\'s spawn once stopped', async () => {
    expect(await startSpawnServer()).to.equal(true);
    const helper = spawnServerPid();
    expect(helper).to.be.a('number');
    expect(Number(await runHostCommand('sh', ['-c', 'echo $PPID']))).to.equal(helper);
    stopSpawnServer();
    expect(Number(await runHostCommand('sh', ['-c', 'echo $PPID']))).to.equal(process.pid);
  });

  it('is not used without its binary', async () => {
    expect(await startSpawnServer(path.join(os.tmpdir(), 'no-such-spawner'))).to.equal(false);
    expect(spawnServerPid()).to.equal(undefined);
  });

  it('survives the helper\'s death: a running child\'s end is still reported, later children use a new helper', async () => {
    const deaths: string[] = [];
    await startSpawnServer(undefined, { onExit: (why) => deaths.push(why) });
    const first = spawnServerPid()!;
    const child = spawnHostProcess('sleep', ['0.5']);
    await new Promise<void>((r) => child.once('spawn', () => r()));
    process.kill(first, 'SIGKILL');
    const ended = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    expect(ended).to.deep.equal([null, null]); // its status went with the helper; its end did not
    expect(deaths).to.have.length(1);
    // Until the new helper runs, children are Node's own; afterwards the new helper's.
    expect((await runHostCommand('echo', ['still works'])).trim()).to.equal('still works');
    await until(() => spawnServerPid() !== undefined && spawnServerPid() !== first, 10_000, 'a new helper');
    expect(Number(await runHostCommand('sh', ['-c', 'echo $PPID']))).to.equal(spawnServerPid());
  });

  it('keeps the helper small', async () => {
    await startSpawnServer();
    await runHostCommand('true', []);
    const rssKiB = Number(statusField(spawnServerPid()!, 'VmRSS').split(/\s+/)[0]);
    expect(rssKiB).to.be.below(4096);
  });
});
