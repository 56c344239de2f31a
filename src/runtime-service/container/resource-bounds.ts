import { quoteInput } from '../../common/bounded-text';
import { invalidArgument } from '../../common/errors';
import type { ContainerResources } from './spec';

/** The longest cpuset list accepted, in characters (a cgroup's cpuset file holds far less). */
export const MAX_CPUSET_LENGTH = 4096;

/** A cpu or memory-node list of the kernel's cpuset format (cgroup-v1 cpusets.rst "cpuset.cpus"): `0-3,5`. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Whether `value` is a cpu or memory-node list like `0-3,5` of at most MAX_CPUSET_LENGTH characters. */
export function isCpuList(value: string): boolean {
  return value.length <= MAX_CPUSET_LENGTH && CPU_LIST.test(value);
}

/**
 * Checks a container's cpuset lists before anything is made: runc quotes a
 * refused value in its error (twice), and an error over conmon's 64 KiB
 * stderr pipe left `runc create` blocked until peapod's 120 s deadline.
 * @param resources the container's resources (CRI linux.resources)
 * @throws InvalidArgumentError naming the domain field `resources.cpusetCpus` or
 *   `resources.cpusetMems` (CRI linux.resources.cpuset_cpus / _mems):
 *   longer than MAX_CPUSET_LENGTH or not a list like 0-3,5.
 */
export function checkContainerResources(resources: ContainerResources | null | undefined): void {
  if (!resources) return;
  for (const [key, value] of [['cpusetCpus', resources.cpusetCpus], ['cpusetMems', resources.cpusetMems]] as const) {
    if (value === undefined || value === '') continue;
    const field = `resources.${key}`;
    if (value.length > MAX_CPUSET_LENGTH) throw invalidArgument(`${field}: ${quoteInput(value)} is longer than ${MAX_CPUSET_LENGTH} characters`, { field });
    if (!isCpuList(value)) throw invalidArgument(`${field}: ${quoteInput(value)} is not a cpu list like 0-3,5`, { field });
  }
}
