import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus';
import type { SandboxRecord } from '../sandbox/record';

/** The CRI metadata of a record. */
function metadataOf(r: SandboxRecord): PodSandbox['metadata'] {
  return { name: r.metadata.name, uid: r.metadata.uid, namespace: r.metadata.namespace, attempt: r.metadata.attempt };
}

/** The CRI state of a sandbox: READY when ready, else NOTREADY (a `creating` one is never listed). */
export function criSandboxState(r: SandboxRecord): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' {
  return r.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
}

/** A record as a CRI PodSandbox (ListPodSandbox entry). */
export function toPodSandbox(r: SandboxRecord): PodSandbox {
  return {
    id: r.id,
    metadata: metadataOf(r),
    state: criSandboxState(r),
    created_at: r.createdAt,
    labels: r.labels,
    annotations: r.annotations,
    runtime_handler: r.runtimeHandler,
  };
}

/** A record as a CRI PodSandboxStatus (network IPs, namespace options). */
export function toPodSandboxStatus(r: SandboxRecord): PodSandboxStatus {
  return {
    ...toPodSandbox(r),
    network: { ip: r.ip ?? '', additional_ips: r.additionalIps.map((ip) => ({ ip })) },
    linux: {
      namespaces: {
        options: { network: r.namespaceOptions.network, pid: r.namespaceOptions.pid, ipc: r.namespaceOptions.ipc, target_id: r.namespaceOptions.targetId },
      },
    },
  };
}
