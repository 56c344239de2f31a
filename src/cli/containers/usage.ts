/**
 * The CLI's containers in numbers, for `info` (Podman's
 * store.containerStore: number, paused, running, stopped).
 */
import type { ContainerRecord } from '../../runtime-service/container/record';

/** Counts of `info`. */
export interface ContainerCounts {
  number: number;
  paused: number;
  running: number;
  stopped: number;
}

/** The CLI's containers by state (created and exited count as stopped, as Podman's). */
export function containerCounts(all: ContainerRecord[]): ContainerCounts {
  const running = all.filter((r) => r.state === 'running').length;
  return { number: all.length, paused: 0, running, stopped: all.length - running };
}
