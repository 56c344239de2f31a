import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { isProcessAlive, killAndWait, processStartTime, ProcessIdentity } from '../../src/common/host/proc';

/** A child that sleeps until killed, with its identity once it runs. */
async function sleeper(): Promise<{ proc: ProcessIdentity; exited: Promise<NodeJS.Signals | null> }> {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
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
});
