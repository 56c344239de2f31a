import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCri } from './harness/client';
import { waitExit } from './harness/server';
import { waitFor } from './helpers/wait';

/** The README's "main job" script, from the repository root (dist/test/integration → ../../..). */
const START_CRI = path.resolve(__dirname, '..', '..', '..', 'scripts', 'start-cri.sh');

interface ScriptRun {
  code: number | null;
  out: string;
}

/** A temp layout for the script: every path it touches moved below `dir` by its environment overrides. */
interface Layout {
  dir: string;
  env: NodeJS.ProcessEnv;
  cniDir: string;
  socket: string;
  pidFile: string;
}

function layout(): Layout {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-start-'));
  const confDir = path.join(dir, 'etc');
  const cniDir = path.join(dir, 'cni');
  const runroot = path.join(dir, 'run');
  fs.mkdirSync(confDir);
  // The server must read the same CNI directory the script looks in and writes.
  fs.writeFileSync(path.join(confDir, 'peapod.conf'), `[network]\ncni_conf_dir = ${JSON.stringify(cniDir)}\n`);
  return {
    dir,
    cniDir,
    socket: path.join(runroot, 'peapod.sock'),
    pidFile: path.join(runroot, 'peapod-cri.pid'),
    env: {
      ...process.env,
      PEAPOD_CONF_DIR: confDir,
      PEAPOD_ROOT: path.join(dir, 'root'),
      PEAPOD_RUNROOT: runroot,
      CNI_CONF_DIR: cniDir,
      CRICTL_YAML: path.join(dir, 'crictl.yaml'),
      PEAPOD_LOG: path.join(dir, 'peapod-cri.log'),
    },
  };
}

/** Runs start-cri.sh to its end (it leaves the server running in the background). */
async function runScript(l: Layout): Promise<ScriptRun> {
  const child = spawn('bash', [START_CRI], { env: l.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const code = await waitExit(child);
  return { code, out };
}

/** Stops the server the script started (its pid file), waiting until the pid is gone. */
async function stopServer(l: Layout): Promise<void> {
  if (!fs.existsSync(l.pidFile)) return;
  const pid = Number(fs.readFileSync(l.pidFile, 'utf8').trim());
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(pid, 'SIGTERM');
  await waitFor(() => !alive(), 30_000, `peapod-cri ${pid} to exit`);
}

async function versionOver(socket: string): Promise<string> {
  const c = connectCri(socket);
  try {
    return (await c.runtime.Version({ version: 'v1' })).runtime_name;
  } finally {
    c.close();
  }
}

describe('scripts/start-cri.sh (the README main job)', function () {
  this.timeout(120_000);
  let l: Layout;

  beforeEach(() => {
    l = layout();
  });

  afterEach(async () => {
    await stopServer(l);
    fs.rmSync(l.dir, { recursive: true, force: true });
  });

  it('with no CNI configuration, writes the peapod network and serves', async () => {
    const r = await runScript(l);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.include(`serving on unix://${l.socket}`);
    expect(fs.readdirSync(l.cniDir)).to.deep.equal(['10-peapod.conflist']);
    expect(JSON.parse(fs.readFileSync(path.join(l.cniDir, '10-peapod.conflist'), 'utf8')).plugins[0].bridge).to.equal('peapod0');
    expect(fs.readFileSync(l.env.CRICTL_YAML as string, 'utf8')).to.include(`runtime-endpoint: unix://${l.socket}`);
    expect(await versionOver(l.socket)).to.equal('peapod');
  });

  it('with a CNI network already there, says which one pods join and writes none', async () => {
    fs.mkdirSync(l.cniDir);
    const existing = path.join(l.cniDir, '50-mine.conflist');
    fs.writeFileSync(existing, JSON.stringify({ cniVersion: '1.0.0', name: 'mine', plugins: [{ type: 'loopback' }] }));
    const r = await runScript(l);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.include(`pods join ${existing}`);
    expect(fs.readdirSync(l.cniDir)).to.deep.equal(['50-mine.conflist']);
    expect(await versionOver(l.socket)).to.equal('peapod');
  });

  it('run again while serving, says so and leaves the first server alone', async () => {
    expect((await runScript(l)).code).to.equal(0);
    const pid = fs.readFileSync(l.pidFile, 'utf8');
    const again = await runScript(l);
    expect(again.code, again.out).to.equal(0);
    expect(again.out).to.include('already serving');
    expect(fs.readFileSync(l.pidFile, 'utf8')).to.equal(pid);
  });
});
