import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ContainerEngine, EngineImage } from '../../src/runtime-service/container/engine';
import { toGrpcStatus } from '../../src/server/status';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig } from './helpers/container-config';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';

/**
 * Issue 17 (second pass): a process whose command, working directory or
 * mount path is longer than a pipe buffer (64 KiB) fails promptly with a
 * short message, instead of the runtime blocking on its error text.
 */
describe('long process arguments fail promptly (real runc + conmon)', function () {
  this.timeout(60_000);
  let dir: string;
  let pod: TestPod;
  let image: EngineImage;
  let engine: ContainerEngine;

  let fixture: BusyboxEngine | undefined;

  before(async () => {
    fixture = await openBusyboxEngine('peapod-longargs-');
    ({ dir, pod, image, engine } = fixture);
  });

  after(() => closeBusyboxEngine(fixture));

  it('fails a 100 KB command that does not exist with a short error, and the next create in the pod works', async () => {
    const long = `/${'x'.repeat(100 * 1024)}`;
    const spec = containerSpecOf(containerConfig('long', { command: [long] }), pod.sandbox).spec;
    let err: unknown;
    try {
      await engine.create(pod.sandbox, spec, image);
    } catch (e) {
      err = e;
    }
    expect(err, 'create failed').to.be.instanceOf(Error);
    expect(toGrpcStatus(err).code).to.equal(GrpcStatus.INVALID_ARGUMENT);
    expect(Buffer.byteLength((err as Error).message)).to.be.below(1024);
    expect((err as Error).message).to.match(/^entrypoint\[0\]: the executable "\/x+…" \(102401 bytes\) is longer than 4096 bytes/);
    const next = await engine.create(pod.sandbox, containerSpecOf(containerConfig('next', { command: ['true'] }), pod.sandbox).spec, image);
    expect(next.id).to.be.a('string');
  });

  it('fails a 100 KB working directory and mount path with a short error naming the field', async () => {
    const long = `/${'w'.repeat(100 * 1024)}`;
    for (const [field, config] of [
      ['workingDir', containerConfig('longwd', { command: ['true'], working_dir: long })],
      ['mounts[0].containerPath', containerConfig('longmnt', { command: ['true'], mounts: [{ container_path: long, host_path: dir, readonly: true } as never] })],
    ] as const) {
      let err: unknown;
      try {
        await engine.create(pod.sandbox, containerSpecOf(config, pod.sandbox).spec, image);
      } catch (e) {
        err = e;
      }
      expect(toGrpcStatus(err).code, field).to.equal(GrpcStatus.INVALID_ARGUMENT);
      expect((err as Error).message.startsWith(`${field}: `), (err as Error).message.slice(0, 200)).to.equal(true);
      expect(Buffer.byteLength((err as Error).message)).to.be.below(1024);
    }
  });

  it('still reports a missing executable of a path-sized name promptly, with the reason at the end of the runtime\'s text kept', async () => {
    const name = `/${'y'.repeat(4000)}`;
    let err: unknown;
    try {
      await engine.create(pod.sandbox, containerSpecOf(containerConfig('missing', { command: [name] }), pod.sandbox).spec, image);
    } catch (e) {
      err = e;
    }
    expect(toGrpcStatus(err).code).to.equal(GrpcStatus.INTERNAL);
    expect(Buffer.byteLength((err as Error).message)).to.be.below(4096);
    expect((err as Error).message).to.match(/file name too long"?$/);
  });
  it('refuses a 1 MiB or malformed cpuset on create and on update with INVALID_ARGUMENT naming the field (runc quoted it past conmon\'s pipe and hung 120 s)', async () => {
    for (const [value, why] of [['1'.repeat(1024 * 1024), /is longer than 4096 characters/], ['0-3;x', /is not a cpu list like 0-3,5/]] as const) {
      const config = containerConfig(`cpuset-${value.length}`, { command: ['true'], linux: { resources: { cpuset_cpus: value, hugepage_limits: [], unified: {} } } as never });
      let err: unknown;
      try {
        await engine.create(pod.sandbox, containerSpecOf(config, pod.sandbox).spec, image);
      } catch (e) {
        err = e;
      }
      expect(toGrpcStatus(err).code, (err as Error)?.message?.slice(0, 200)).to.equal(GrpcStatus.INVALID_ARGUMENT);
      expect((err as Error).message).to.match(why);
      expect((err as Error).message.startsWith('resources.cpusetCpus: '), (err as Error).message.slice(0, 200)).to.equal(true);
      expect(Buffer.byteLength((err as Error).message)).to.be.below(1024);
    }
    const c = await engine.create(pod.sandbox, containerSpecOf(containerConfig('cpuset-ok', { command: ['true'] }), pod.sandbox).spec, image);
    let err: unknown;
    try {
      await engine.updateResources(c.id, { cpusetMems: 'm'.repeat(5000) });
    } catch (e) {
      err = e;
    }
    expect(toGrpcStatus(err).code).to.equal(GrpcStatus.INVALID_ARGUMENT);
    expect((err as Error).message.startsWith('resources.cpusetMems: '), (err as Error).message.slice(0, 200)).to.equal(true);
  });
});
