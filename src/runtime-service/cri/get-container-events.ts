import type { ContainerEventResponse } from '../../generated/runtime/v1/ContainerEventResponse';
import type { ContainerEventType } from '../../generated/runtime/v1/ContainerEventType';
import type { GetEventsRequest__Output } from '../../generated/runtime/v1/GetEventsRequest';
import { PeapodError } from '../../common/errors';
import type { ServerStreamImpl } from '../../server/rpc';
import type { LifecycleEvent, LifecycleEventType } from '../lifecycle-events';
import type { RuntimeContext } from './context';
import { toCriStatus } from './container-view';
import { toPodSandboxStatus } from './pod-sandbox-view';

const CRI_EVENT_TYPE: Record<LifecycleEventType, ContainerEventType> = {
  created: 'CONTAINER_CREATED_EVENT',
  started: 'CONTAINER_STARTED_EVENT',
  stopped: 'CONTAINER_STOPPED_EVENT',
  deleted: 'CONTAINER_DELETED_EVENT',
};

/**
 * A lifecycle event as the CRI sends it (ContainerEventResponse, as
 * containerd fills it): the container's ID (the pod's for a pod's own
 * event), the type, when (ns), the pod's status and its containers'
 * statuses at that moment (no pod status once the pod is gone).
 */
export function toContainerEventResponse(e: LifecycleEvent): ContainerEventResponse {
  return {
    container_id: e.id,
    container_event_type: CRI_EVENT_TYPE[e.type],
    created_at: e.at.toString(),
    pod_sandbox_status: e.sandbox ? toPodSandboxStatus(e.sandbox) : null,
    containers_statuses: e.containers.map(toCriStatus),
  };
}

/**
 * CRI `GetContainerEvents` (the kubelet's Evented PLEG): every lifecycle
 * event of this server's pods and containers from the subscription on
 * (first those held while nobody was subscribed, see lifecycle-events.ts),
 * until the client goes away. A subscriber more than
 * `container_events_buffer` events behind is cut off with
 * RESOURCE_EXHAUSTED; at shutdown the stream ends with UNAVAILABLE, as
 * containerd's does ("subscription closed by server"); the kubelet
 * subscribes again after either.
 */
export function getContainerEvents(ctx: RuntimeContext): ServerStreamImpl<GetEventsRequest__Output, ContainerEventResponse> {
  return async (_req, sink) => {
    const sub = ctx.events.subscribe(ctx.config.container_events_buffer);
    const onAbort = (): void => sub.close();
    sink.signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const event = await sub.next();
        if (!event) break;
        // A client that reads nothing blocks the send (backpressure); the subscription ending meanwhile (cut off, shutdown) ends the call at once.
        const sent = sink.send(toContainerEventResponse(event));
        sent.catch(() => undefined);
        const outcome = await Promise.race([sent.then(() => 'sent' as const), sub.whenEnded]);
        if (outcome === 'overflow') throw sub.overflowError();
        if (outcome !== 'sent') break;
      }
      if (sub.ended === 'overflow') throw sub.overflowError();
      if (sink.signal.aborted) return;
      throw new PeapodError('UNAVAILABLE', 'container events subscription closed by server');
    } finally {
      sink.signal.removeEventListener('abort', onAbort);
      sub.close();
    }
  };
}
