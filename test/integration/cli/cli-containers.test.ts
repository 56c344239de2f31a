import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { freePort, startRegistry, TestRegistry } from '../harness/registry';
import { CLI_MAIN, CliEnv, CliResult, fetchTcp, makeCliEnv, until } from './cli-harness';

/** Mount points under `dir` (none may stay after a container or sandbox is gone). */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir));
}

describe('peapod CLI: containers (run, create, start, stop, kill, restart, rm, ps, logs, exec, attach, inspect, wait, port, top, stats, cp)', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let IMG = '';

  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}: ${r.stderr}`).to.equal(0);
    return r;
  };

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage({ Cmd: ['sh'] }));
    IMG = `${registry.host}/library/busybox:latest`;
    env = makeCliEnv();
  });
  // Each test leaves no container behind, even when it fails half-way.
  afterEach(async () => {
    await env.run(['rm', '-a', '-f', '-t', '0']);
  });
  after(async () => {
    if (env) {
      await env.run(['rm', '-a', '-f', '-t', '0']);
      const left = mountsUnder(env.dir);
      env.cleanup();
      expect(left, 'mounts left behind').to.deep.equal([]);
    }
    await registry?.stop();
  });

  it('run --rm IMG echo hi: pulls the image, prints hi, exits 0, and leaves nothing behind', async () => {
    const r = await env.run(['run', '--rm', IMG, 'echo', 'hi']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('hi\n');
    expect((await env.run(['ps', '-a', '-q'])).stdout).to.equal('');
    expect(fs.readdirSync(path.join(env.root, 'containers'))).to.deep.equal([]);
    expect(fs.readdirSync(path.join(env.root, 'sandboxes'))).to.deep.equal([]);
    expect(mountsUnder(env.runroot)).to.deep.equal([]);
    // The default network was written to the CLI's own CNI directory.
    expect(fs.readdirSync(env.cniConfDir)).to.deep.equal(['87-peapod-cli.conflist']);
  });

  it('passes exit codes through: the container\'s (3), 126 cannot invoke, 127 not found, with one Error line', async () => {
    const three = await env.run(['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'exit 3']);
    expect(three.code).to.equal(3);
    const notFound = await env.run(['run', '--rm', '--network', 'none', IMG, 'nosuch-command']);
    expect(notFound.code).to.equal(127);
    expect(notFound.stderr).to.match(/^Error: runc: .*executable file not found in \$PATH: OCI runtime attempted to invoke a command that was not found\n$/);
    const cannot = await env.run(['run', '--rm', '--network', 'none', IMG, '/etc/passwd']);
    expect(cannot.code).to.equal(126);
    expect(cannot.stderr).to.match(/^Error: runc: .*permission denied: OCI permission denied\n$/);
    expect((await env.run(['ps', '-a', '-q'])).stdout, 'failed --rm containers are removed').to.equal('');
    const engine = await env.run(['run', '--rm', '--pull', 'never', `${registry.host}/library/nosuch:1`, 'true']);
    expect(engine.code).to.equal(125);
    expect(engine.stderr).to.equal(`Error: ${registry.host}/library/nosuch:1: image not known\n`);
  });

  it('output arrives byte for byte, binary included, stdout and stderr apart', async () => {
    const child = spawn(process.execPath, [CLI_MAIN, ...env.globalArgs, 'run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'printf "\\000\\377\\376a\\r\\n"; printf err >&2; printf tail'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).to.equal(0);
    expect(Buffer.concat(out).equals(Buffer.from([0x00, 0xff, 0xfe, 0x61, 0x0d, 0x0a, ...Buffer.from('tail')]))).to.equal(true, Buffer.concat(out).toString('hex'));
    expect(err).to.equal('err');
  });

  it('run -i pipes stdin and closes it at EOF', async () => {
    const r = await env.run(['run', '--rm', '-i', '--network', 'none', IMG, 'sh', '-c', 'cat; echo; echo eof-seen'], { input: 'line one\nline two' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('line one\nline two\neof-seen\n');
  });

  it('run -d, then ps, logs -f, exec (-e -u -w), stop, rm', async () => {
    const id = ok(await env.run(['run', '-d', '--name', 'worker', '--network', 'none', IMG, 'sh', '-c', 'echo one; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two; echo oops >&2'], {}), 'run -d').stdout.trim();
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const ps = ok(await env.run(['ps']), 'ps').stdout.split('\n');
    expect(ps[0]).to.match(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps[1]).to.match(new RegExp(`^${id.slice(0, 12)}\\s+${IMG.replace(/[.]/g, '\\.')}\\s+sh -c echo one; w\\.\\.\\.\\s+.* ago\\s+Up .* ago\\s+worker$`));
    const follow = env.start(['logs', '-f', 'worker']);
    await until(async () => (await env.run(['logs', 'worker'])).stdout === 'one\n', 20_000, 'the first line');
    const x = ok(await env.run(['exec', '-e', 'X=42', '-u', '1000', '-w', '/tmp', 'worker', 'sh', '-c', 'echo $X $(id -u) $(pwd); touch /tmp/go']), 'exec');
    expect(x.stdout).to.equal('42 1000 /tmp\n');
    const logs = await follow.done;
    expect(logs.code).to.equal(0);
    expect(logs.stdout).to.equal('one\ntwo\n');
    expect(logs.stderr).to.equal('oops\n');
    await until(async () => (await env.run(['ps', '-a', '--format', '{{.Status}}'])).stdout.startsWith('Exited (0)'), 20_000, 'the exit to be recorded');
    expect((await env.run(['exec', 'worker', 'true'])).code, 'exec in an exited container').to.equal(255);
    expect((await env.run(['logs', '--tail', '1', 'worker'])).stderr).to.equal('oops\n');
    expect((await env.run(['logs', '-t', 'worker'])).stdout).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one\n\S+Z two\n$/);
    ok(await env.run(['rm', 'worker']), 'rm');
    expect((await env.run(['ps', '-a', '-q'])).stdout).to.equal('');
  });

  it('exec in a running container writes nothing to the state database (its record read, no engine, no lock row)', async () => {
    ok(await env.run(['run', '-d', '--name', 'quiet', '--network', 'none', IMG, 'sleep', '1000']), 'run -d');
    const db = path.join(env.root, 'state.db');
    const look = (): string[] =>
      [db, `${db}-wal`].map((f) => {
        try {
          const st = fs.statSync(f);
          return `${f}: ${st.size} bytes, modified ${st.mtimeMs}`;
        } catch {
          return `${f}: absent`;
        }
      });
    const before = look();
    const x = ok(await env.run(['exec', 'quiet', 'sh', '-c', 'echo in; echo err >&2']), 'exec');
    expect(x.stdout).to.equal('in\n');
    expect(x.stderr).to.equal('err\n');
    expect(look()).to.deep.equal(before);
  });
  it('stop -t gives the grace time, then SIGKILL (exit 137); rm of a running container needs -f (exit 2); no such container (exit 1)', async () => {
    ok(await env.run(['run', '-d', '--name', 'sleeper', '--network', 'none', IMG, 'sleep', '1000']), 'run -d');
    const running = await env.run(['rm', 'sleeper']);
    expect(running.code).to.equal(2);
    expect(running.stderr).to.match(/^Error: cannot remove container [0-9a-f]{64} as it is running - running or paused containers cannot be removed without force: container state improper\n$/);
    const stop = ok(await env.run(['stop', '-t', '1', 'sleeper']), 'stop');
    expect(stop.stdout).to.equal('sleeper\n');
    expect(stop.stderr).to.contain('resorting to SIGKILL');
    expect((await env.run(['inspect', 'sleeper', '--format', '{{.State.Status}} {{.State.ExitCode}}'])).stdout).to.equal('exited 137\n');
    expect((await env.run(['wait', 'sleeper'])).stdout).to.equal('137\n');
    const none = await env.run(['rm', 'nosuch']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.equal('Error: no container with name or ID "nosuch" found: no such container\n');
    expect((await env.run(['stop', 'nosuch'])).code).to.equal(125);
    expect((await env.run(['rm', '-i', 'nosuch'])).code).to.equal(0);
    ok(await env.run(['rm', 'sleeper']), 'rm');
  });

  it('create, start -a, start again (the same writable layer, the log appended), restart, kill -s, wait, a taken name', async () => {
    const id = ok(await env.run(['create', '--name', 'again', '--network', 'none', IMG, 'sh', '-c', 'echo run >> /count; wc -l < /count']), 'create').stdout.trim();
    expect((await env.run(['ps', '-a', '--format', '{{.ID}} {{.Status}}'])).stdout).to.equal(`${id.slice(0, 12)} Created\n`);
    const first = await env.run(['start', '-a', 'again']);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout.trim()).to.equal('1');
    ok(await env.run(['start', 'again']), 'start');
    await until(async () => (await env.run(['wait', 'again'])).stdout === '0\n', 20_000, 'the second run');
    expect((await env.run(['logs', 'again'])).stdout).to.equal('1\n2\n');
    const taken = await env.run(['create', '--name', 'again', '--network', 'none', IMG, 'true']);
    expect(taken.code).to.equal(125);
    expect(taken.stderr).to.contain('the container name "again" is already in use');
    ok(await env.run(['rm', 'again']), 'rm');

    ok(await env.run(['run', '-d', '--name', 'trapper', '--network', 'none', IMG, 'sh', '-c', 'trap "echo got-hup; exit 4" HUP; echo ready; while :; do sleep 0.05; done']), 'run');
    await until(async () => (await env.run(['logs', 'trapper'])).stdout === 'ready\n', 20_000, 'the trap');
    expect(ok(await env.run(['kill', '-s', 'HUP', 'trapper']), 'kill').stdout).to.equal('trapper\n');
    expect((await env.run(['wait', 'trapper'])).stdout).to.equal('4\n');
    const restart = ok(await env.run(['restart', 'trapper']), 'restart');
    expect(restart.stdout).to.match(/^[0-9a-f]{64}\n$/);
    await until(async () => (await env.run(['logs', 'trapper'])).stdout === 'ready\ngot-hup\nready\n', 20_000, 'the restart');
    expect((await env.run(['ps', '--format', '{{.Names}} {{.State}}'])).stdout).to.equal('trapper running\n');
    ok(await env.run(['rm', '-f', '-t', '0', 'trapper']), 'rm -f');
  });

  it('run -d --rm is removed by the exit command once it exits, with no CLI left watching', async () => {
    const id = ok(await env.run(['run', '-d', '--rm', '--network', 'none', IMG, 'sh', '-c', 'sleep 0.3']), 'run').stdout.trim();
    await until(async () => !(await env.run(['ps', '-a', '-q', '--no-trunc'])).stdout.includes(id), 30_000, 'the exit command to remove the container');
    // Its own sandbox goes right after the container (removeCliContainer): waited for, not raced.
    await until(() => fs.readdirSync(path.join(env.root, 'sandboxes')).length === 0, 30_000, 'the exit command to remove the container\'s sandbox');
  });

  it('without --rm the exit is recorded by the exit command too (inspect reads no stale state)', async () => {
    ok(await env.run(['run', '-d', '--name', 'quick', '--network', 'none', IMG, 'sh', '-c', 'exit 6']), 'run');
    await until(async () => (await env.run(['inspect', 'quick', '--format', '{{.State.Status}} {{.State.ExitCode}}'])).stdout === 'exited 6\n', 20_000, 'the exit to be recorded');
    ok(await env.run(['rm', 'quick']), 'rm');
  });

  it('-p publishes a container port on the host over the bridge; port and ps show it', async () => {
    const hostPort = await freePort();
    ok(await env.run(['run', '-d', '--name', 'web', '-p', `${hostPort}:80`, IMG, 'sh', '-c', 'mkdir /www && echo hello-from-peapod > /www/index.html && exec httpd -f -p 80 -h /www']), 'run -d -p');
    expect((await env.run(['port', 'web'])).stdout).to.equal(`80/tcp -> 0.0.0.0:${hostPort}\n`);
    expect((await env.run(['port', 'web', '80'])).stdout).to.equal(`0.0.0.0:${hostPort}\n`);
    expect((await env.run(['ps', '--format', '{{.Ports}}'])).stdout).to.equal(`0.0.0.0:${hostPort}->80/tcp\n`);
    const ip = (await env.run(['inspect', 'web', '--format', '{{.NetworkSettings.IPAddress}}'])).stdout.trim();
    expect(ip).to.match(/^198\.19\.\d+\.\d+$/);
    let page = '';
    await until(
      async () => {
        page = await fetchTcp('127.0.0.1', hostPort, 'GET / HTTP/1.0\r\n\r\n').catch(() => '');
        return page.includes('hello-from-peapod');
      },
      20_000,
      'the published port',
    );
    expect(page).to.match(/^HTTP\/1\.[01] 200/);
    expect(await fetchTcp(ip, 80, 'GET / HTTP/1.0\r\n\r\n')).to.contain('hello-from-peapod');
    ok(await env.run(['rm', '-f', '-t', '0', 'web']), 'rm -f');
  });

  it('the container inherits the caller\'s login UID (fork-exec, no daemon)', async function () {
    if (fs.readFileSync('/proc/self/loginuid', 'utf8').trim() !== '4294967295' && process.getuid?.() !== 0) this.skip();
    const out = execFileSync('sh', ['-c', `echo 1000 > /proc/self/loginuid && exec "$0" "$@"`, process.execPath, CLI_MAIN, ...env.globalArgs, 'run', '--rm', '--network', 'none', IMG, 'cat', '/proc/self/loginuid'], { encoding: 'utf8' });
    expect(out).to.equal('1000');
    const id = execFileSync('sh', ['-c', `echo 1234 > /proc/self/loginuid && exec "$0" "$@"`, process.execPath, CLI_MAIN, ...env.globalArgs, 'run', '-d', '--network', 'none', IMG, 'sleep', '1000'], { encoding: 'utf8' }).trim();
    // exec too: runc exec is this process's child.
    const viaExec = execFileSync('sh', ['-c', `echo 4321 > /proc/self/loginuid && exec "$0" "$@"`, process.execPath, CLI_MAIN, ...env.globalArgs, 'exec', id, 'cat', '/proc/self/loginuid'], { encoding: 'utf8' });
    expect(viaExec).to.equal('4321');
    expect((await env.run(['exec', id, 'cat', '/proc/1/loginuid'])).stdout).to.equal('1234');
    ok(await env.run(['rm', '-f', '-t', '0', id]), 'rm');
  });

  it('flags: -v (ro), -w, -u, --entrypoint, --hostname, -e/--env-file, --network none and host, --memory, --cpus, labels', async () => {
    // Readable by the container's user `app` (the env's own temp dir is 0700).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-vol-'));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'data.txt'), 'from-host', { mode: 0o644 });
    const envFile = path.join(env.dir, 'env.list');
    fs.writeFileSync(envFile, '# vars\nFROM_FILE=file\nBOTH=file\n');
    const r = ok(
      await env.run([
        'run', '--rm', '--network', 'none', '-v', `${dir}:/data:ro`, '-w', '/data', '-u', 'app', '--hostname', 'box1', '-e', 'BOTH=cli', '--env-file', envFile,
        '--entrypoint', '/bin/sh', IMG, '-c', 'cat data.txt; echo; pwd; id -un; hostname; echo $FROM_FILE $BOTH; touch x 2>/dev/null || echo read-only; ip -o link | wc -l',
      ]),
      'run',
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.stdout).to.equal('from-host\n/data\napp\nbox1\nfile cli\nread-only\n1\n');
    const host = ok(await env.run(['run', '--rm', '--network', 'host', IMG, 'hostname']), 'host').stdout;
    expect(host).to.equal(`${execFileSync('hostname', { encoding: 'utf8' })}`);
    const id = ok(await env.run(['run', '-d', '--network', 'none', '-m', '64m', '--cpus', '0.5', '-l', 'team=blue', IMG, 'sleep', '1000']), 'limits').stdout.trim();
    const cfg = JSON.parse((await env.run(['inspect', id])).stdout)[0] as { HostConfig: { Memory: number; CpuQuota: number; CpuPeriod: number }; Config: { Labels: Record<string, string>; Hostname: string }; State: { CgroupPath: string } };
    expect(cfg.HostConfig).to.include({ Memory: 64 * 1024 * 1024, CpuQuota: 50000, CpuPeriod: 100000 });
    expect(cfg.Config.Labels).to.deep.equal({ team: 'blue' });
    expect(cfg.Config.Hostname).to.equal(id.slice(0, 12));
    const memFile = path.join('/sys/fs/cgroup/memory', cfg.State.CgroupPath, 'memory.limit_in_bytes');
    if (fs.existsSync(memFile)) expect(fs.readFileSync(memFile, 'utf8').trim()).to.equal(String(64 * 1024 * 1024));
    expect((await env.run(['ps', '--filter', 'label=team=blue', '-q'])).stdout).to.equal(`${id.slice(0, 12)}\n`);
    ok(await env.run(['rm', '-f', '-t', '0', id]), 'rm');
  });

  it('top, stats --no-stream, inspect, and ps --format json in Podman\'s shapes', async () => {
    ok(await env.run(['run', '-d', '--name', 'busy', '--network', 'none', IMG, 'sh', '-c', 'sleep 1000 & wait']), 'run');
    const top = ok(await env.run(['top', 'busy']), 'top').stdout.split('\n');
    expect(top[0]).to.match(/^USER\s+PID\s+PPID\s+%CPU\s+ELAPSED\s+TTY\s+TIME\s+COMMAND$/);
    expect(top[1]).to.match(/^root\s+1\s+0\s+[\d.]+\s+\S+\s+\?\s+\S+\s+sh -c sleep 1000 & wait$/);
    expect(top[2]).to.match(/^root\s+\d+\s+1\s+.*sleep 1000$/);
    expect((await env.run(['top', 'busy', 'pid', 'comm'])).stdout.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[1])).to.deep.equal(['sh', 'sleep']);
    const stats = ok(await env.run(['stats', '--no-stream']), 'stats').stdout.split('\n');
    expect(stats[0]).to.match(/^ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET IO\s+BLOCK IO\s+PIDS\s+CPU TIME\s+AVG CPU %$/);
    expect(stats[1]).to.match(/^[0-9a-f]{12}\s+busy\s+[\d.]+%\s+\S+ \/ \S+\s+[\d.]+%\s+\S+ \/ \S+\s+\S+ \/ \S+\s+2\s+/);
    const doc = JSON.parse(ok(await env.run(['inspect', 'busy']), 'inspect').stdout)[0] as Record<string, unknown>;
    expect(doc).to.include.keys('Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ImageName', 'Name', 'Config', 'HostConfig', 'NetworkSettings', 'Mounts', 'GraphDriver');
    expect(doc).to.include({ Path: 'sh', Name: 'busy', ImageName: IMG });
    expect((doc.State as Record<string, unknown>).Running).to.equal(true);
    const json = JSON.parse(ok(await env.run(['ps', '--format', 'json']), 'ps json').stdout)[0] as Record<string, unknown>;
    expect(json).to.include({ State: 'running', Image: IMG, AutoRemove: false, Exited: false });
    expect(json.Names).to.deep.equal(['busy']);
    expect(json.Command).to.deep.equal(['sh', '-c', 'sleep 1000 & wait']);
    // `inspect` also finds images; a name that is neither is an error after the others are printed.
    const both = await env.run(['inspect', '--format', '{{.Id}}', 'busy', IMG, 'nothing-here']);
    expect(both.code).to.equal(125);
    expect(both.stdout.split('\n').filter(Boolean)).to.have.length(2);
    expect(both.stderr).to.equal('Error: no such object: "nothing-here"\n');
    ok(await env.run(['rm', '-f', '-t', '0', 'busy']), 'rm');
  });

  it('cp both ways; a link in the container pointing out of its rootfs stays inside it', async () => {
    ok(await env.run(['run', '-d', '--name', 'files', '--network', 'none', IMG, 'sh', '-c', 'mkdir -p /srv/site && echo in-container > /srv/site/a.txt && ln -s /etc /srv/escape && ln -s ../../../../../../etc/passwd /srv/passwd-link && sleep 1000']), 'run');
    await until(async () => (await env.run(['exec', 'files', 'ls', '/srv/passwd-link'])).code === 0, 20_000, 'the files');
    const out = path.join(env.dir, 'out');
    ok(await env.run(['cp', 'files:/srv/site', out]), 'cp out');
    expect(fs.readFileSync(path.join(out, 'a.txt'), 'utf8')).to.equal('in-container\n');
    const hostFile = path.join(env.dir, 'host.txt');
    fs.writeFileSync(hostFile, 'from-host\n');
    ok(await env.run(['cp', hostFile, 'files:/srv/site/']), 'cp in');
    expect((await env.run(['exec', 'files', 'cat', '/srv/site/host.txt'])).stdout).to.equal('from-host\n');
    // Through the link: /srv/escape -> /etc is the container's /etc, never the host's.
    const marker = `peapod-cp-${process.pid}`;
    ok(await env.run(['cp', hostFile, `files:/srv/escape/${marker}`]), 'cp through a link');
    expect(fs.existsSync(`/etc/${marker}`)).to.equal(false);
    expect((await env.run(['exec', 'files', 'cat', `/etc/${marker}`])).stdout).to.equal('from-host\n');
    // Copying a link out copies the link, not the host file it would name.
    ok(await env.run(['cp', 'files:/srv/passwd-link', path.join(env.dir, 'link-copy')]), 'cp a link out');
    expect(fs.lstatSync(path.join(env.dir, 'link-copy')).isSymbolicLink()).to.equal(true);
    const missing = await env.run(['cp', 'files:/nope', env.dir]);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.contain('"/nope" does not exist in the container');
    ok(await env.run(['rm', '-f', '-t', '0', 'files']), 'rm');
  });

  it('run -it under a pseudo-terminal: its size follows ours, the shell sees our keys, Ctrl-D ends it; the detach keys leave it running', async function () {
    const name = `tty-${process.pid}`;
    const cmd = [process.execPath, CLI_MAIN, ...env.globalArgs, 'run', '-it', '--rm', '--name', name, '--network', 'none', IMG, 'sh'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', `stty rows 24 cols 80; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    child.stdin.write('stty size\r');
    await until(() => /\r\n24 80\r\n/.test(screen), 30_000, 'the first size');
    // Resize our terminal: the kernel sends SIGWINCH to the CLI, which tells conmon.
    const cliPid = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .find((p) => {
        try {
          const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv[0] === process.execPath && argv[1] === CLI_MAIN && argv.includes(name);
        } catch {
          return false;
        }
      });
    expect(cliPid, 'the CLI process').to.not.equal(undefined);
    const tty = fs.readlinkSync(`/proc/${cliPid}/fd/0`);
    execFileSync('stty', ['-F', tty, 'rows', '40', 'cols', '100']);
    await until(
      () => {
        child.stdin.write('stty size\r');
        return /\r\n40 100\r\n/.test(screen);
      },
      20_000,
      'the new size',
    );
    child.stdin.write('echo "x$((40+2))"\r');
    await until(() => screen.includes('x42'), 20_000, 'the echo');
    child.stdin.write('\x04');
    expect(await exited).to.equal(0);
    await until(async () => !(await env.run(['ps', '-a', '--format', '{{.Names}}'])).stdout.includes(name), 20_000, 'the --rm removal');

    // Detach: ctrl-p ctrl-q ends the CLI with 0 and the shell runs on.
    const det = spawn('script', ['-qfec', cmd.replace(`'--rm' `, '').replace(name, `${name}-d`), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let dscreen = '';
    det.stdout.on('data', (d: Buffer) => (dscreen += d.toString()));
    det.stdin.write('echo ready-$((1+1))\r');
    await until(() => dscreen.includes('ready-2'), 30_000, 'the shell');
    det.stdin.write('\x10\x11');
    expect(await new Promise((r) => det.on('close', r))).to.equal(0);
    expect((await env.run(['ps', '--format', '{{.Names}} {{.State}}'])).stdout).to.contain(`${name}-d running`);
    ok(await env.run(['rm', '-f', '-t', '0', `${name}-d`]), 'rm');
  });

  it('exec -it under a pseudo-terminal: our size from the first instant, TERM=xterm', async () => {
    const name = `exectty-${process.pid}`;
    ok(await env.run(['run', '-d', '--name', name, '--network', 'none', IMG, 'sleep', '300']), 'run -d');
    const cmd = [process.execPath, CLI_MAIN, ...env.globalArgs, 'exec', '-it', name, 'sh', '-c', 'stty size; echo "T=$TERM"; printf "a\\nb\\n"'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', `stty rows 40 cols 100; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString('latin1')));
    expect(await new Promise((r) => child.on('close', r)), screen).to.equal(0);
    // Line ends aside: a carriage return may still be doubled now and then (runc's own terminal setup races ours; see docs/cli.md).
    expect(screen).to.match(/^40 100\r+\n/m);
    expect(screen).to.match(/^T=xterm\r+\n/m);
    ok(await env.run(['rm', '-f', '-t', '0', name]), 'rm');
  });

  it('passes SIGINT and SIGTERM on to an attached container without a terminal', async () => {
    const { child, done } = env.start(['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.05; done']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('ready'), 20_000, 'the trap');
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).to.equal(9);
    expect(r.stdout).to.equal('ready\ngot-int\n');
  });

  it('rmi -f removes the CLI\'s containers made from the image, then the image', async () => {
    const other = `${registry.host}/app/other:1`;
    await pushImage(registry.url, 'app/other', '1', await busyboxImage({ Cmd: ['sh'], Labels: { other: 'yes' } }));
    ok(await env.run(['run', '-d', '--name', 'user1', '--network', 'none', other, 'sleep', '1000']), 'run');
    ok(await env.run(['create', '--name', 'user2', '--network', 'none', other, 'true']), 'create');
    const refused = await env.run(['rmi', other]);
    expect(refused.code).to.equal(2);
    const forced = ok(await env.run(['rmi', '-f', other]), 'rmi -f');
    expect(forced.stdout).to.match(/^Untagged: .*app\/other:1\nDeleted: [0-9a-f]{64}\n$/);
    expect((await env.run(['ps', '-a', '--format', '{{.Names}}'])).stdout).to.not.match(/user[12]/);
  });

  it('info counts the containers', async () => {
    ok(await env.run(['create', '--name', 'counted', '--network', 'none', IMG, 'true']), 'create');
    expect((await env.run(['info', '--format', '{{.Store.ContainerStore.Number}} {{.Store.ContainerStore.Running}} {{.Store.ContainerStore.Stopped}}'])).stdout).to.equal('1 0 1\n');
    ok(await env.run(['rm', 'counted']), 'rm');
  });
});
