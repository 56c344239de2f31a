import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConmonDriver } from '../../src/conmon/driver';
import { processesWithArgument } from '../../src/common/host/proc';
import { PeapodError } from '../../src/common/errors';
import { ContainerEngine, EngineImage } from '../../src/runtime-service/container/engine';
import { newContainerId } from '../../src/runtime-service/container/create';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig, resources, securityContext } from './helpers/container-config';
import { until } from './helpers/wait';

describe('conmon started before the bundle is written (ConmonDriver.prepare; real conmon + runc)', function () {
  this.timeout(60000);
  let fixture: BusyboxEngine | undefined;
  let engine: ContainerEngine;
  let pod: TestPod;
  let image: EngineImage;
  let runcRoot: string;

  before(async () => {
    fixture = await openBusyboxEngine('peapod-prepare-');
    ({ engine, pod, image } = fixture);
    runcRoot = fixture.opts.runtimes.runc.runtime_root;
  });
  after(() => closeBusyboxEngine(fixture));

  const runcKnows = (id: string): boolean => execFileSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).split('\n').includes(id);
  const spec = (name: string, extra: Parameters<typeof containerConfig>[1] = {}) => containerSpecOf(containerConfig(name, { command: ['sleep', '300'], ...extra }), pod.sandbox).spec;

  it('a cancelled monitor is killed before it runs the runtime: no process, no runtime state, no pid file', async () => {
    const dir = fs.mkdtempSync(path.join(fixture!.dir, 'prep-'));
    const id = newContainerId();
    const driver = new ConmonDriver('/usr/bin/conmon');
    const prepared = driver.prepare({
      id,
      bundle: dir,
      runtimePath: '/usr/sbin/runc',
      runtimeRoot: runcRoot,
      pidFile: path.join(dir, 'pid'),
      conmonPidFile: path.join(dir, 'conmon.pid'),
      logPath: path.join(dir, 'log', 'ctr.log'),
      exitDir: path.join(dir, 'exits'),
      socketDir: path.join(dir, 'sockets'),
      persistDir: path.join(dir, 'persist'),
      terminal: false,
      stdin: false,
      systemdCgroup: false,
    });
    // It waits on its start pipe: alive, nothing of the runtime's yet.
    expect(await until(async () => (await processesWithArgument(id)).length > 0, 10000), 'conmon is running').to.equal(true);
    prepared.cancel();
    expect(await until(async () => (await processesWithArgument(id)).length === 0, 10000), 'conmon is gone').to.equal(true);
    expect(runcKnows(id)).to.equal(false);
    expect(fs.existsSync(path.join(dir, 'conmon.pid'))).to.equal(false);
    await prepared.run().then(
      () => expect.fail('run after cancel must fail'),
      (err: Error) => expect(err.message).to.match(/already run or cancelled/),
    );
  });

  it('a creation that fails after conmon started (an unknown user, found once the rootfs is mounted) leaves no monitor, record or bundle', async () => {
    const bundlesDir = path.join(fixture!.opts.runroot, 'containers');
    const bundlesBefore = fs.readdirSync(bundlesDir).length;
    let err: unknown;
    try {
      await engine.create(pod.sandbox, spec('nouser', { linux: { resources: resources(), security_context: securityContext({ run_as_username: 'no-such-user' }) } }), image);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(PeapodError);
    expect((err as PeapodError).code).to.equal('INVALID_ARGUMENT');
    expect(engine.list().some((c) => c.metadata.name === 'nouser')).to.equal(false);
    expect(fs.readdirSync(bundlesDir).length).to.equal(bundlesBefore);
    // No conmon of this engine is left waiting (or went on to run the runtime).
    const left = await processesWithArgument(fixture!.opts.runroot);
    const conmons = left.filter((p) => fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('/usr/bin/conmon'));
    expect(conmons, 'conmon processes of this engine').to.deep.equal([]);
  });

  it('creates and starts as before: conmon ran the runtime once the bundle was written', async () => {
    const rec = await engine.create(pod.sandbox, spec('prepared'), image);
    expect(runcKnows(rec.id)).to.equal(true);
    expect(rec.pid).to.be.greaterThan(0);
    await engine.start(rec.id);
    expect(engine.get(rec.id).state).to.equal('running');
    await engine.remove(rec.id);
  });
});
