import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive, killAndWait, processStartTime, ProcessIdentity } from '../../src/common/host/proc';
import { stopSlirp4netns } from '../../src/runtime-service/sandbox/slirp4netns';

/** A child that sleeps until killed, with its identity once it runs. */
async function sleeper(ignoreTerm = false): Promise<{ proc: ProcessIdentity; exited: Promise<NodeJS.Signals | null> }> {
  // `exec sleep` after `trap '' TERM`: the ignored disposition survives exec, so the sleeper itself ignores SIGTERM.
  const child = ignoreTerm ? spawn('sh', ['-c', "trap '' TERM; exec sleep 1000"], { stdio: 'ignore' }) : spawn('sleep', ['1000'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  const startTime = processStartTime(child.pid!);
  expect(startTime, 'the child\'s start time').to.be.a('string');
  return { proc: { pid: child.pid!, startTime: startTime! }, exited };
}

describe('killAndWait', () => {
  it('SIGKILLs every process and returns once each is gone, none left', async () => {
    const a = await sleeper();
    const b = await sleeper();
    const left = await killAndWait([a.proc, b.proc], 10_000);
    expect(left).to.deep.equal([]);
    expect(isProcessAlive(a.proc)).to.equal(false);
    expect(isProcessAlive(b.proc)).to.equal(false);
    expect(await a.exited).to.equal('SIGKILL');
    expect(await b.exited).to.equal('SIGKILL');
  });

  it('leaves a pid alone whose start time is not the one named (a reused pid)', async () => {
    const a = await sleeper();
    try {
      const left = await killAndWait([{ pid: a.proc.pid, startTime: `${a.proc.startTime}0` }], 1000);
      expect(left).to.deep.equal([]);
      expect(isProcessAlive(a.proc)).to.equal(true);
    } finally {
      process.kill(a.proc.pid, 'SIGKILL');
      await a.exited;
    }
  });

  it('sends the signal named, and returns a process that ignores it as still alive at the deadline', async () => {
    const a = await sleeper();
    const left = await killAndWait([a.proc], 10_000, 'SIGTERM');
    expect(left).to.deep.equal([]);
    expect(await a.exited).to.equal('SIGTERM');

    const b = await sleeper(true);
    try {
      // The exec has replaced sh once /proc shows sleep's command line.
      const deadline = Date.now() + 10_000;
      while (!fs.readFileSync(`/proc/${b.proc.pid}/cmdline`, 'utf8').startsWith('sleep') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const stillThere = await killAndWait([b.proc], 50, 'SIGTERM');
      expect(stillThere).to.deep.equal([b.proc]);
      expect(isProcessAlive(b.proc)).to.equal(true);
    } finally {
      process.kill(b.proc.pid, 'SIGKILL');
      await b.exited;
    }
  });
});

describe('stopSlirp4netns', () => {
  it('SIGTERMs, then SIGKILLs a process that ignores SIGTERM once the grace is over, and removes the API socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-stop-slirp-'));
    const apiSocket = path.join(dir, 'api.sock');
    fs.writeFileSync(apiSocket, '');
    const term = await sleeper();
    const stubborn = await sleeper(true);
    try {
      const deadline = Date.now() + 10_000;
      while (!fs.readFileSync(`/proc/${stubborn.proc.pid}/cmdline`, 'utf8').startsWith('sleep') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await stopSlirp4netns({ ...term.proc, apiSocket }, 10_000);
      expect(await term.exited).to.equal('SIGTERM');
      expect(fs.existsSync(apiSocket)).to.equal(false);
      await stopSlirp4netns({ ...stubborn.proc, apiSocket }, 50);
      expect(isProcessAlive(stubborn.proc)).to.equal(false);
      expect(await stubborn.exited).to.equal('SIGKILL');
    } finally {
      if (isProcessAlive(stubborn.proc)) process.kill(stubborn.proc.pid, 'SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
