import type { Container } from '../../generated/runtime/v1/Container';
import type { ContainerStats } from '../../generated/runtime/v1/ContainerStats';
import type { ContainerStatus } from '../../generated/runtime/v1/ContainerStatus';
import type { ContainerEngine } from '../container/engine';
import type { ContainerRecord } from '../container/record';
import type { ContainerState } from '../container/state';
import type { ContainerUsage } from '../container/stats';
import type { SandboxRecord } from '../sandbox/record';
import { CRI_PROPAGATION } from './container-config';
import { criResourcesOf } from './resources';

/**
 * The CRI state of a container. `creating` never reaches a CRI caller (such
 * records are not listed); CONTAINER_UNKNOWN is never reported (see state.ts).
 */
export const CRI_CONTAINER_STATE: Record<ContainerState, 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED'> = {
  creating: 'CONTAINER_CREATED',
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
};

/** CRI `Container` (ListContainers entry) of a record. */
export function toCriContainer(rec: ContainerRecord): Container {
  return {
    id: rec.id,
    pod_sandbox_id: rec.sandboxId,
    metadata: { name: rec.metadata.name, attempt: rec.metadata.attempt },
    image: { image: rec.image.name, annotations: rec.image.annotations, user_specified_image: rec.image.userSpecified },
    image_ref: rec.imageRef,
    image_id: rec.imageId,
    state: CRI_CONTAINER_STATE[rec.state],
    created_at: rec.createdAt,
    labels: rec.labels,
    annotations: rec.annotations,
  };
}

/** CRI `ContainerStatus` of a record. */
export function toCriStatus(rec: ContainerRecord): ContainerStatus {
  return {
    id: rec.id,
    metadata: { name: rec.metadata.name, attempt: rec.metadata.attempt },
    state: CRI_CONTAINER_STATE[rec.state],
    created_at: rec.createdAt,
    started_at: rec.startedAt,
    finished_at: rec.finishedAt,
    exit_code: rec.exitCode,
    image: { image: rec.image.name, annotations: rec.image.annotations, user_specified_image: rec.image.userSpecified },
    image_ref: rec.imageRef,
    image_id: rec.imageId,
    reason: rec.reason,
    message: rec.message,
    labels: rec.labels,
    annotations: rec.annotations,
    mounts: rec.mounts.map((m) => ({ container_path: m.containerPath, host_path: m.hostPath, readonly: m.readonly, propagation: CRI_PROPAGATION[m.propagation] })),
    log_path: rec.logPath,
    resources: rec.resources ? { linux: criResourcesOf(rec.resources) } : null,
    user: rec.user ? { linux: { uid: String(rec.user.uid), gid: String(rec.user.gid), supplemental_groups: rec.user.additionalGids.map(String) } } : null,
  };
}

function u64(v: bigint | undefined): { value: string } | null {
  return v === undefined ? null : { value: v.toString() };
}

/** Whether a record's labels contain every pair of `selector`. */
export function matchesLabels(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** CRI `ContainerStats` of a container from its usage (engine.usageOf): cgroup cpu/memory read now, the writable layer as last measured. */
export function toCriStats(rec: ContainerRecord, u: ContainerUsage): ContainerStats {
  const ts = u.timestampNs.toString();
  return {
    attributes: { id: rec.id, metadata: { name: rec.metadata.name, attempt: rec.metadata.attempt }, labels: rec.labels, annotations: rec.annotations },
    cpu: { timestamp: ts, usage_core_nano_seconds: u64(u.cgroup.cpuUsageNs ?? 0n) },
    memory: {
      timestamp: ts,
      working_set_bytes: u64(u.cgroup.memoryWorkingSetBytes ?? 0n),
      usage_bytes: u64(u.cgroup.memoryUsageBytes ?? 0n),
      rss_bytes: u64(u.cgroup.memoryRssBytes ?? 0n),
      page_faults: u64(u.cgroup.pageFaults ?? 0n),
      major_page_faults: u64(u.cgroup.majorPageFaults ?? 0n),
    },
    writable_layer: {
      timestamp: ts,
      fs_id: { mountpoint: rec.upperDir },
      used_bytes: u64(u.writable.usedBytes),
      inodes_used: u64(u.writable.inodesUsed),
    },
  };
}

/** The fields of CRI's ContainerFilter and ContainerStatsFilter that both list RPCs honour. */
export interface ContainerFilterFields {
  id: string;
  pod_sandbox_id: string;
  label_selector: Record<string, string>;
  /** ContainerFilter only. */
  state?: { state: string } | null;
}

/**
 * Applies a CRI container filter: id and pod_sandbox_id as full IDs or unique
 * prefixes, state when given, and label_selector (every pair must match).
 * @param ctx where containers and sandboxes are looked up
 * @param f the request's filter, or null for all containers
 */
export function filterContainers(ctx: { containers: ContainerEngine; sandboxes: { getShared(idOrPrefix: string): SandboxRecord | undefined } }, f: ContainerFilterFields | null): ContainerRecord[] {
  let recs = ctx.containers.list();
  if (f?.id) {
    const one = ctx.containers.find(f.id);
    recs = one ? [one] : [];
  }
  if (f?.pod_sandbox_id) {
    // The shared record: a full ID costs no row query and no parse (the kubelet lists each pod's containers this way).
    const sandboxId = ctx.sandboxes.getShared(f.pod_sandbox_id)?.id ?? f.pod_sandbox_id;
    recs = recs.filter((r) => r.sandboxId === sandboxId);
  }
  if (f?.state) recs = recs.filter((r) => CRI_CONTAINER_STATE[r.state] === f.state?.state);
  return recs.filter((r) => matchesLabels(r.labels, f?.label_selector));
}
