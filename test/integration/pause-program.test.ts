import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive, processesWithArgument } from '../../src/common/host/proc';
import { killInfra, PAUSE_BINARY, startInfra } from '../../src/runtime-service/sandbox/infra';
import { until } from './helpers/wait';

/** How a process started by the test ended. */
function ended(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

const mounted = (file: string): boolean => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === file);

/** peapod's pause program (native/pause.c) on its own, and as startInfra runs it. */
describe('peapod-pause, the init process of a pod sharing a PID namespace', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-pause-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits 0 on ${sig}`, async () => {
      const child = spawn(PAUSE_BINARY, ['peapod-infra', 'label'], { stdio: 'ignore' });
      const end = ended(child);
      // Its handlers are set once it sleeps (state S, named pause).
      expect(await until(() => fs.existsSync(`/proc/${child.pid}/comm`) && fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'pause\n', 10_000)).to.equal(true);
      child.kill(sig);
      expect(await end).to.deep.equal({ code: 0, signal: null });
    });
  }

  it('dies of a signal it has no handler for (SIGHUP), so the exit 0 above is its own', async () => {
    const child = spawn(PAUSE_BINARY, [], { stdio: 'ignore' });
    const end = ended(child);
    expect(await until(() => fs.existsSync(`/proc/${child.pid}/comm`) && fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'pause\n', 10_000)).to.equal(true);
    child.kill('SIGHUP');
    expect(await end).to.deep.equal({ code: null, signal: 'SIGHUP' });
  });

  it('refuses a namespace file it cannot join, and an unknown option, leaving nothing running', () => {
    const label = `peapod-pause-test-${process.pid}-bad`;
    let r = spawnSync(PAUSE_BINARY, ['--net=/nonexistent/netns', `--pidns=${dir}/pin`, '--', label], { encoding: 'utf8' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('/nonexistent/netns');
    r = spawnSync(PAUSE_BINARY, ['--bogus', label], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('unknown option --bogus');
  });

  it('cannot pin on a missing file: says so and kills the PID 1 it made', async () => {
    const label = `peapod-pause-test-${process.pid}-nopin`;
    const r = spawnSync(PAUSE_BINARY, [`--pidns=${dir}/absent/pin`, '--', 'peapod-infra', label], { encoding: 'utf8' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`${dir}/absent/pin`);
    expect(await processesWithArgument(label)).to.deep.equal([]);
  });

  it('startInfra: one PID 1 in a new PID namespace pinned on the file, found by the sandbox ID; killInfra ends it', async () => {
    const id = `peapod-pause-test-${process.pid}-start`;
    const pin = path.join(dir, 'pidns');
    const infra = await startInfra(id, {}, pin);
    try {
      expect(isProcessAlive(infra)).to.equal(true);
      expect(fs.readlinkSync(`/proc/${infra.pid}/ns/pid`)).to.equal(`pid:[${fs.statSync(pin).ino}]`);
      expect(fs.readlinkSync(`/proc/${infra.pid}/ns/pid`)).to.not.equal(fs.readlinkSync('/proc/self/ns/pid'));
      expect(fs.readFileSync(`/proc/${infra.pid}/status`, 'utf8')).to.match(new RegExp(`^NSpid:\\s+${infra.pid}\\s+1$`, 'm'));
      // The starter is gone: the sandbox ID names PID 1 alone.
      expect((await processesWithArgument(id)).map((p) => p.pid)).to.deep.equal([infra.pid]);
      // Nothing of the caller's stays open in it.
      expect(fs.readdirSync(`/proc/${infra.pid}/fd`).sort()).to.deep.equal(['0', '1', '2']);
      await killInfra(infra);
      expect(isProcessAlive(infra)).to.equal(false);
    } finally {
      spawnSync('umount', [pin]);
    }
    expect(mounted(pin)).to.equal(false);
  });
});
