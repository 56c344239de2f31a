import { expect } from 'chai';
import type { ContainerRecord } from '../../src/runtime-service/container/record';
import { LifecycleEvents } from '../../src/runtime-service/lifecycle-events';
import type { SandboxRecord } from '../../src/runtime-service/sandbox/record';

const ctr = (state: ContainerRecord['state']): ContainerRecord => ({ id: 'c1', sandboxId: 'p1', state }) as ContainerRecord;
const pod = (state: SandboxRecord['state']): SandboxRecord => ({ id: 'p1', state }) as SandboxRecord;

describe('LifecycleEvents (the container and pod event bus)', () => {
  it('turns record changes into created, started, stopped and deleted events, in order', async () => {
    const bus = new LifecycleEvents({ hold: { count: 0, ms: 0 } });
    bus.setSource({ sandbox: () => pod('ready'), containers: () => [] });
    const sub = bus.subscribe(16);
    bus.sandbox({ before: pod('creating'), after: pod('ready') });
    bus.container({ before: ctr('creating'), after: ctr('created') });
    bus.container({ before: ctr('created'), after: ctr('running') });
    bus.container({ before: ctr('running'), after: ctr('running') });
    bus.container({ before: ctr('running'), after: ctr('exited') });
    bus.container({ before: ctr('exited'), after: undefined });
    bus.container({ before: ctr('creating'), after: undefined });
    bus.sandbox({ before: pod('ready'), after: pod('notready') });
    bus.sandbox({ before: pod('notready'), after: undefined });
    const got: string[] = [];
    for (let i = 0; i < 8; i++) {
      const e = (await sub.next())!;
      got.push(`${e.subject}:${e.type}`);
    }
    expect(got).to.deep.equal(['sandbox:created', 'sandbox:started', 'container:created', 'container:started', 'container:stopped', 'container:deleted', 'sandbox:stopped', 'sandbox:deleted']);
    expect(sub.pending).to.equal(0);
  });

  it('gives a container that never started no stopped event: created, then deleted (containerd)', async () => {
    const bus = new LifecycleEvents({ hold: { count: 0, ms: 0 } });
    bus.setSource({ sandbox: () => pod('ready'), containers: () => [] });
    const sub = bus.subscribe(16);
    bus.container({ before: ctr('creating'), after: ctr('created') });
    bus.container({ before: ctr('created'), after: ctr('exited') });
    bus.container({ before: ctr('exited'), after: undefined });
    expect([(await sub.next())!.type, (await sub.next())!.type]).to.deep.equal(['created', 'deleted']);
    expect(sub.pending).to.equal(0);
  });

  it('cuts off a subscriber that falls behind its buffer, freeing it, while another keeps every event', async () => {
    const bus = new LifecycleEvents({ hold: { count: 0, ms: 0 } });
    const slow = bus.subscribe(2);
    const fast = bus.subscribe(2);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      bus.container({ before: ctr('creating'), after: { ...ctr('created'), id: `c${i}` } });
      seen.push((await fast.next())!.id);
    }
    expect(seen).to.deep.equal(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(slow.ended).to.equal('overflow');
    expect(slow.pending).to.equal(0);
    expect(await slow.whenEnded).to.equal('overflow');
    const err = await slow.next().then(
      () => null,
      (e: { code?: string }) => e,
    );
    expect(err?.code).to.equal('RESOURCE_EXHAUSTED');
    expect(bus.subscriberCount).to.equal(1);
  });

  it('holds the newest events while nobody subscribes, for the next subscriber only, and ends subscriptions at shutdown', async () => {
    const bus = new LifecycleEvents({ hold: { count: 3, ms: 60_000 } });
    for (let i = 0; i < 5; i++) bus.container({ before: ctr('running'), after: { ...ctr('exited'), id: `c${i}` } });
    const first = bus.subscribe(2);
    expect([(await first.next())!.id, (await first.next())!.id]).to.deep.equal(['c3', 'c4']);
    expect(bus.subscribe(2).pending).to.equal(0);
    bus.shutdown();
    expect(await first.next()).to.equal(undefined);
    expect(first.ended).to.equal('shutdown');
  });
});
