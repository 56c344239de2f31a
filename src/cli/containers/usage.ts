/**
 * The CLI's containers in numbers, for `info` (Podman's
 * store.containerStore: number, paused, running, stopped) and `system df`
 * (Podman's Containers row: total, active, size of the writable layers,
 * reclaimable = the stopped ones' layers).
 */
import type { ContainerStore } from '../../runtime-service/container/store';

/** Counts of `info`. */
export interface ContainerCounts {
  number: number;
  paused: number;
  running: number;
  stopped: number;
}

/** The CLI's containers by state (created and exited count as stopped, as Podman's). */
export function containerCounts(store: ContainerStore): ContainerCounts {
  const all = store.list();
  const running = all.filter((r) => r.state === 'running').length;
  return { number: all.length, paused: 0, running, stopped: all.length - running };
}

/** The `system df` row of containers: bytes are the writable layers' (a walk of each upper dir, run off the event loop's way in a short command). */
export interface ContainerDiskUsage {
  total: number;
  active: number;
  sizeBytes: number;
  reclaimableBytes: number;
}

/** Measures the writable layers of the CLI's containers. */
export function containerDiskUsage(store: ContainerStore): ContainerDiskUsage {
  const { directoryUsage } = require('../../runtime-service/container/stats') as typeof import('../../runtime-service/container/stats');
  let size = 0;
  let reclaimable = 0;
  let active = 0;
  const all = store.list();
  for (const r of all) {
    const bytes = Number(directoryUsage(r.upperDir).usedBytes);
    size += bytes;
    if (r.state === 'running') active++;
    else reclaimable += bytes;
  }
  return { total: all.length, active, sizeBytes: size, reclaimableBytes: reclaimable };
}
