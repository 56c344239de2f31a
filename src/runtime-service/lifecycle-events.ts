/**
 * The lifecycle events of pods and containers, for whoever watches them
 * (peapod-cri's GetContainerEvents, the kubelet's Evented PLEG). The stores
 * report every change of a record (container/store.ts, sandbox/store.ts);
 * `LifecycleEvents` turns those into events and hands each to every
 * subscriber. No gRPC here: the CRI front end converts (cri/get-container-events.ts).
 *
 * Events, as containerd sends them (internal/cri/server: a pod's own events
 * carry the pod's ID as the container ID):
 * - container: `created` when conmon reported the runtime created it (and
 *   after a recreate), `started`, `stopped` when the exit of a container
 *   that was started was recorded (by the exit watcher, a stop, or recovery
 *   at start: `exited` and `lost`), `deleted` when its record is gone. A
 *   container that never started gives no `stopped` (removed, or stopped
 *   with its pod, it goes from created to exited): containerd's
 *   stopContainer does nothing for a created container and its
 *   RemoveContainer sends DELETED alone;
 * - pod sandbox: `created` and `started` when it became ready the first
 *   time, `started` when it became ready again, `stopped` when it was
 *   stopped or found gone, `deleted` when its record is gone. A pod's stop
 *   stops its containers before the pod (sandbox/lifecycle.ts stopLocked,
 *   as containerd's stopPodSandbox), so their STOPPED events come first.
 * A record rolled back while `creating` was never announced and gives no event.
 *
 * Bounds: each subscriber has a buffer of `capacity` events; one that falls
 * further behind is cut off (its next read throws RESOURCE_EXHAUSTED, its
 * buffer freed) so it never blocks the others nor grows memory. With no
 * subscriber, the last `hold.count` events of the last `hold.ms` are kept
 * for the next one (containerd keeps its events 5 minutes for the kubelet to
 * reconnect), so exits found by recovery, before any client could
 * subscribe, still reach it.
 */
import { PeapodError } from '../common/errors';
import { nowNs } from '../common/time';
import type { ContainerRecord } from './container/record';
import type { SandboxRecord } from './sandbox/record';

/** What happened (the CRI's ContainerEventType without its prefix). */
export type LifecycleEventType = 'created' | 'started' | 'stopped' | 'deleted';

/** One event, with the pod as it was at that moment. */
export interface LifecycleEvent {
  /** The container's ID; for a pod's own event, the pod's ID. */
  id: string;
  /** Whether `id` names a container or the pod sandbox itself. */
  subject: 'container' | 'sandbox';
  type: LifecycleEventType;
  /** The pod sandbox's ID. */
  sandboxId: string;
  /** When it happened, in nanoseconds since the epoch. */
  at: bigint;
  /** The pod's record at that moment; undefined once it is gone. */
  sandbox: SandboxRecord | undefined;
  /** The pod's containers at that moment (not `creating`), oldest first. */
  containers: readonly ContainerRecord[];
}

/** A change of a record, as a store reports it: the record before (undefined for a new one) and after (undefined once deleted). */
export type RecordChange<R> = { before: R | undefined; after: R | undefined };

/** Where the stores report their changes (wired by the composition root, peapod.ts). */
export interface RecordObserver {
  container(change: RecordChange<ContainerRecord>): void;
  sandbox(change: RecordChange<SandboxRecord>): void;
}

/** What LifecycleEvents reads to take a snapshot of a pod. */
export interface PodSnapshotSource {
  /** The pod's record (any state), undefined when gone. */
  sandbox(id: string): SandboxRecord | undefined;
  /** The pod's containers, not `creating`, oldest first. */
  containers(sandboxId: string): readonly ContainerRecord[];
}

/** Default bounds (containerd: 100 events per subscriber channel, 5 minutes kept without subscribers). */
export const DEFAULT_SUBSCRIBER_CAPACITY = 1000;
/** Events held for the next subscriber while there is none: at most `count`, none older than `ms` milliseconds. */
export const DEFAULT_HOLD = { count: 1000, ms: 5 * 60_000 };

/** Why a subscription ended. */
export type SubscriptionEnd = 'closed' | 'overflow' | 'shutdown';

/**
 * One subscriber's view of the events: `next()` resolves with the next
 * event in order. Its buffer holds at most `capacity` events.
 */
export class EventSubscription {
  private readonly queue: LifecycleEvent[] = [];
  private wake: (() => void) | undefined;
  private endedBy: SubscriptionEnd | undefined;
  private onEnd: ((why: SubscriptionEnd) => void) | undefined;
  /** Resolves with why once the subscription ended (a reader busy elsewhere, e.g. blocked writing to a slow client, learns it here). */
  readonly whenEnded: Promise<SubscriptionEnd> = new Promise((resolve) => (this.onEnd = resolve));

  /** Use LifecycleEvents.subscribe. */
  constructor(
    readonly capacity: number,
    private readonly detach: (s: EventSubscription) => void,
  ) {}

  /** Why it ended, or undefined while it lasts. */
  get ended(): SubscriptionEnd | undefined {
    return this.endedBy;
  }

  /** Events waiting to be read. */
  get pending(): number {
    return this.queue.length;
  }

  /** @internal Called by LifecycleEvents: queues the event, or cuts the subscriber off when its buffer is full. */
  deliver(event: LifecycleEvent): void {
    if (this.endedBy) return;
    if (this.queue.length >= this.capacity) {
      this.end('overflow');
      return;
    }
    this.queue.push(event);
    this.notify();
  }

  /**
   * The next event, waiting for one.
   * @returns undefined once the subscription was closed (close(), or the
   *   bus shut down) and every event before was read.
   * @throws PeapodError RESOURCE_EXHAUSTED when the subscriber fell more
   *   than `capacity` events behind (the events it missed are gone).
   */
  async next(): Promise<LifecycleEvent | undefined> {
    for (;;) {
      if (this.endedBy === 'overflow') throw this.overflowError();
      const event = this.queue.shift();
      if (event) return event;
      if (this.endedBy) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The error of a subscriber cut off for falling behind (RESOURCE_EXHAUSTED). */
  overflowError(): PeapodError {
    return new PeapodError('RESOURCE_EXHAUSTED', `the container events subscriber fell more than ${this.capacity} events behind and was cut off; subscribe again`);
  }

  /** Ends the subscription: no more events are queued; a waiting next() resolves undefined. Idempotent. */
  close(): void {
    this.end('closed');
  }

  /** @internal */
  end(why: SubscriptionEnd): void {
    if (this.endedBy) return;
    this.endedBy = why;
    if (why === 'overflow') this.queue.length = 0;
    this.detach(this);
    this.notify();
    this.onEnd?.(why);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** The event bus of one process: fed by the stores (as their RecordObserver), read by subscribers. */
export class LifecycleEvents implements RecordObserver {
  private readonly subscribers = new Set<EventSubscription>();
  private held: LifecycleEvent[] = [];
  private readonly hold: { count: number; ms: number };
  private source: PodSnapshotSource | undefined;
  private shutDown = false;

  /**
   * @param options.hold what is kept while nobody subscribes (count, ms);
   *   `{ count: 0 }` keeps nothing (a short-lived CLI process)
   */
  constructor(options: { hold?: { count: number; ms: number } } = {}) {
    this.hold = options.hold ?? DEFAULT_HOLD;
  }

  /** Gives the bus where it reads pods and containers for its snapshots (set once the stores exist). */
  setSource(source: PodSnapshotSource): void {
    this.source = source;
  }

  /** Number of live subscribers. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * A new subscriber: it first receives the events held while nobody was
   * subscribed (the newest that fit its capacity), then every event as it happens.
   * @param capacity events it may fall behind before it is cut off (at least 1)
   */
  subscribe(capacity = DEFAULT_SUBSCRIBER_CAPACITY): EventSubscription {
    const sub = new EventSubscription(Math.max(1, Math.floor(capacity)), (s) => this.subscribers.delete(s));
    if (this.shutDown) {
      sub.end('shutdown');
      return sub;
    }
    this.subscribers.add(sub);
    // The newest held events that fit its buffer: a new subscriber is never cut off by what happened before it came.
    const held = this.freshHeld().slice(-sub.capacity);
    this.held = [];
    for (const e of held) sub.deliver(e);
    return sub;
  }

  /** Ends every subscription ('shutdown': their next() resolves undefined once drained) and takes no more. */
  shutdown(): void {
    this.shutDown = true;
    for (const s of [...this.subscribers]) s.end('shutdown');
    this.held = [];
  }

  /** RecordObserver: a container's record changed. */
  container({ before, after }: RecordChange<ContainerRecord>): void {
    const rec = after ?? before;
    if (!rec) return;
    const from = before?.state;
    const to = after?.state;
    const types: LifecycleEventType[] = [];
    if (to === undefined) {
      if (from !== undefined && from !== 'creating') types.push('deleted');
    } else if (to === 'created' && from !== 'created') types.push('created');
    else if (to === 'running' && from !== 'running') types.push('started');
    else if (to === 'exited' && from !== 'exited' && from !== 'created') types.push('stopped');
    for (const type of types) this.emit({ id: rec.id, subject: 'container', type, sandboxId: rec.sandboxId });
  }

  /** RecordObserver: a pod sandbox's record changed. */
  sandbox({ before, after }: RecordChange<SandboxRecord>): void {
    const rec = after ?? before;
    if (!rec) return;
    const from = before?.state;
    const to = after?.state;
    const types: LifecycleEventType[] = [];
    if (to === undefined) {
      if (from !== undefined && from !== 'creating') types.push('deleted');
    } else if (to === 'ready' && from !== 'ready') types.push(...(from === 'creating' ? (['created', 'started'] as const) : (['started'] as const)));
    else if (to === 'notready' && from === 'ready') types.push('stopped');
    for (const type of types) this.emit({ id: rec.id, subject: 'sandbox', type, sandboxId: rec.id });
  }

  private emit(e: Pick<LifecycleEvent, 'id' | 'subject' | 'type' | 'sandboxId'>): void {
    if (this.shutDown) return;
    if (this.subscribers.size === 0 && this.hold.count <= 0) return;
    const event: LifecycleEvent = {
      ...e,
      at: nowNs(),
      sandbox: this.source?.sandbox(e.sandboxId),
      containers: this.source?.containers(e.sandboxId) ?? [],
    };
    if (this.subscribers.size === 0) {
      this.held = this.freshHeld();
      this.held.push(event);
      if (this.held.length > this.hold.count) this.held.splice(0, this.held.length - this.hold.count);
      return;
    }
    for (const s of [...this.subscribers]) s.deliver(event);
  }

  /** The held events not older than `hold.ms`. */
  private freshHeld(): LifecycleEvent[] {
    const oldest = nowNs() - BigInt(this.hold.ms) * 1_000_000n;
    return this.held.filter((e) => e.at >= oldest);
  }
}
