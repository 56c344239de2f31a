import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { PeapodError } from '../../src/common/errors';
import type { ContainerRecord } from '../../src/runtime-service/container/record';
import { LOST_MESSAGE, mustBeRunning, nextRecord } from '../../src/runtime-service/container/state';
import type { SandboxRecord } from '../../src/runtime-service/sandbox/record';
import { nextSandbox } from '../../src/runtime-service/sandbox/state';
import { toGrpcStatus } from '../../src/server/status';

const container = (state: ContainerRecord['state']): ContainerRecord =>
  ({ id: 'c1', state, createdAt: '100', startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '', pid: 0 }) as ContainerRecord;

function refusal(fn: () => unknown): PeapodError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(PeapodError);
    expect((err as PeapodError).code).to.equal('WRONG_STATE');
    expect(toGrpcStatus(err).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    return err as PeapodError;
  }
  throw new Error('expected WRONG_STATE');
}

describe('state machines (container/state.ts, sandbox/state.ts)', () => {
  it('walks a container from creating to exited, each edge writing its fields', () => {
    let rec = nextRecord(container('creating'), { type: 'created', pid: 42, user: { uid: 0, gid: 0, additionalGids: [] } });
    expect(rec).to.include({ state: 'created', pid: 42 });
    rec = nextRecord(rec, { type: 'started', startedAt: 200n });
    expect(rec).to.include({ state: 'running', startedAt: '200' });
    rec = nextRecord(rec, { type: 'exited', exitCode: 3, finishedAt: 150n, reason: 'Error' });
    // An exit file's coarse mtime never puts the end before the start.
    expect(rec).to.include({ state: 'exited', exitCode: 3, finishedAt: '200', reason: 'Error', pid: 0 });
    const lost = nextRecord(container('running'), { type: 'lost', at: 300n });
    expect(lost).to.include({ state: 'exited', exitCode: 255, reason: 'Error', message: LOST_MESSAGE });
  });

  it('refuses what the drawing does not allow with WRONG_STATE and a clear message', () => {
    expect(refusal(() => nextRecord(container('running'), { type: 'started', startedAt: 1n })).message).to.equal('container c1 is running: only a created container can be started');
    expect(refusal(() => mustBeRunning(container('exited'), 'exec')).message).to.equal('container c1 is exited: exec needs a running container');
    refusal(() => nextRecord(container('exited'), { type: 'resources', resources: {} }));
    refusal(() => nextRecord(container('created'), { type: 'created', pid: 1, user: { uid: 0, gid: 0, additionalGids: [] } }));
    const pod = { id: 's1', state: 'creating', namespaces: {} } as unknown as SandboxRecord;
    refusal(() => nextSandbox(pod, { type: 'stopped' }));
    const ready = nextSandbox(nextSandbox(pod, { type: 'infraStarted', pid: 7, startTime: '9', pidNamespace: '/run/peapod/sandboxes/s1/pidns' }), { type: 'ready', ip: '198.18.0.2', additionalIps: [] });
    expect(ready).to.include({ state: 'ready', infraPid: 7, infraStartTime: '9', ip: '198.18.0.2' });
    // The pin, never /proc/<pid>/ns/pid: a pid outlives its process.
    expect(ready.namespaces.pid).to.equal('/run/peapod/sandboxes/s1/pidns');
    expect(nextSandbox(nextSandbox(ready, { type: 'stopped' }), { type: 'stopped' }).state).to.equal('notready');
    refusal(() => nextSandbox(ready, { type: 'ready', additionalIps: [] }));
  });

  it('starts a stopped pod again: a new infra pid while notready, then ready with the new IPs (or none)', () => {
    const pod = { id: 's1', state: 'creating', namespaces: {} } as unknown as SandboxRecord;
    const pin = '/run/peapod/sandboxes/s1/pidns';
    const stopped = nextSandbox(nextSandbox(nextSandbox(pod, { type: 'infraStarted', pid: 7, startTime: '9', pidNamespace: pin }), { type: 'ready', ip: '198.18.0.2', additionalIps: [] }), { type: 'stopped' });
    const infra = nextSandbox(stopped, { type: 'infraStarted', pid: 8, startTime: '10', pidNamespace: pin });
    expect(infra).to.include({ state: 'notready', infraPid: 8, infraStartTime: '10' });
    expect(infra.namespaces.pid).to.equal(pin);
    expect(nextSandbox(infra, { type: 'ready', ip: '198.18.0.3', additionalIps: [] })).to.include({ state: 'ready', ip: '198.18.0.3' });
    expect(nextSandbox(stopped, { type: 'ready', additionalIps: [] })).to.not.have.property('ip');
    expect(refusal(() => nextSandbox(nextSandbox(stopped, { type: 'ready', additionalIps: [] }), { type: 'infraStarted', pid: 9, startTime: '11', pidNamespace: pin })).message).to.match(/pod sandbox s1 is ready/);
  });
});
