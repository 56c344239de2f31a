import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ContainerEngine, EngineImage } from '../../src/runtime-service/container/engine';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import { execFifoPath, startThroughExecFifo } from '../../src/runtime-service/oci/exec-fifo';
import { PeapodError } from '../../src/common/errors';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig } from './helpers/container-config';
import { until } from './helpers/wait';

describe('starting a runc container through its exec FIFO (real runc + conmon)', function () {
  this.timeout(60000);
  let fixture: BusyboxEngine | undefined;
  let engine: ContainerEngine;
  let pod: TestPod;
  let image: EngineImage;
  let runcRoot: string;

  before(async () => {
    fixture = await openBusyboxEngine('peapod-fifo-');
    ({ engine, pod, image } = fixture);
    runcRoot = fixture.opts.runtimes.runc.runtime_root;
  });
  after(() => closeBusyboxEngine(fixture));

  const runcStatus = (id: string): string => (JSON.parse(execFileSync('runc', ['--root', runcRoot, 'state', id], { encoding: 'utf8' })) as { status: string }).status;
  const create = (name: string, command: string[]) => engine.create(pod.sandbox, containerSpecOf(containerConfig(name, { command }), pod.sandbox).spec, image);

  it('runs the user process: runc then calls the container running, and its FIFO is gone', async () => {
    const rec = await create('fifo-run', ['/bin/sh', '-c', 'echo started; sleep 300']);
    expect(runcStatus(rec.id)).to.equal('created');
    expect(fs.statSync(execFifoPath(runcRoot, rec.id)).isFIFO()).to.equal(true);
    expect(await startThroughExecFifo(runcRoot, rec.id, rec.pid)).to.equal(true);
    expect(runcStatus(rec.id)).to.equal('running');
    expect(fs.existsSync(execFifoPath(runcRoot, rec.id))).to.equal(false);
    expect(await until(() => fs.existsSync(rec.logPath) && fs.readFileSync(rec.logPath, 'utf8').includes('started'), 20000), 'the process wrote its line').to.equal(true);
    // Not created any more: nothing to start through a FIFO (the runtime's own start answers).
    expect(await startThroughExecFifo(runcRoot, rec.id, rec.pid)).to.equal(false);
    await engine.remove(rec.id);
  });

  it('StartContainer through the engine runs the process and records it running', async () => {
    const rec = await create('fifo-engine', ['sleep', '300']);
    await engine.start(rec.id);
    expect(engine.get(rec.id).state).to.equal('running');
    expect(runcStatus(rec.id)).to.equal('running');
    // As with `runc start`, the call ends at the FIFO's end of file, which init's last closes give just before its exec.
    expect(await until(() => fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0')[0] === 'sleep', 10000), 'init exec\'d sleep').to.equal(true);
    await engine.remove(rec.id);
  });

  it('fails, not hangs, when the init died before the start, with runc\'s words', async () => {
    const rec = await create('fifo-dead', ['sleep', '300']);
    process.kill(rec.pid, 'SIGKILL');
    expect(await until(() => !fs.existsSync(`/proc/${rec.pid}`) || fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8').includes(') Z'), 10000)).to.equal(true);
    // The FIFO still waits for a reader; its writer is gone for good.
    expect(fs.statSync(execFifoPath(runcRoot, rec.id)).isFIFO()).to.equal(true);
    let err: unknown;
    try {
      await startThroughExecFifo(runcRoot, rec.id, rec.pid, 20000);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.equal('container process is already dead');
    // The engine, which has seen the exit by now or sees it on its refresh, refuses or fails: never a running record.
    await engine.start(rec.id).catch((e: unknown) => expect(e).to.be.instanceOf(PeapodError));
    expect(engine.get(rec.id).state).to.not.equal('running');
    await engine.remove(rec.id);
  });
});
