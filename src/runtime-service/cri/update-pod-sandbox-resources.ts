import type { UpdatePodSandboxResourcesRequest__Output } from '../../generated/runtime/v1/UpdatePodSandboxResourcesRequest';
import type { UpdatePodSandboxResourcesResponse } from '../../generated/runtime/v1/UpdatePodSandboxResourcesResponse';
import { invalidArgument } from '../../common/errors';
import { updatePodResources } from '../sandbox/pod-resources';
import type { RuntimeContext } from './context';
import { mappingCriFields } from './fields';
import { resourcesOf } from './resources';

/** CRI field of a domain field of podCgroupSettings (`resources.cpuShares` → `resources.cpu_shares`). */
function criField(field: string): string | undefined {
  const m = /^(resources|overhead)\.([A-Za-z]+)(.*)$/.exec(field);
  if (!m) return undefined;
  const names: Record<string, string> = {
    memoryLimitBytes: 'memory_limit_in_bytes',
    cpuShares: 'cpu_shares',
    cpuPeriod: 'cpu_period',
    cpuQuota: 'cpu_quota',
    cpusetCpus: 'cpuset_cpus',
    cpusetMems: 'cpuset_mems',
    hugepageLimits: 'hugepage_limits',
    unified: 'unified',
  };
  const tail = m[3].replace('.pageSize', '.page_size').replace('.limitBytes', '.limit');
  return names[m[2]] ? `${m[1]}.${names[m[2]]}${tail}` : undefined;
}

/**
 * CRI `UpdatePodSandboxResources` (in-place pod resize, KEP-1287): applies
 * the pod-level limits, `resources` (the sum of the containers') plus
 * `overhead`, to the pod cgroup (sandbox/pod-resources.ts), as containerd
 * 2.x takes the call (an empty request is fine and changes nothing).
 * @throws PeapodError INVALID_ARGUMENT when pod_sandbox_id is empty or a
 *   value is out of range (naming the CRI field); NOT_FOUND for an unknown
 *   pod; FAILED_PRECONDITION when the kernel refuses a limit as busy.
 */
export function updatePodSandboxResources(ctx: RuntimeContext) {
  return async (req: UpdatePodSandboxResourcesRequest__Output): Promise<UpdatePodSandboxResourcesResponse> => {
    if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id is required');
    const deps = { cgroupDriver: ctx.config.runtime.cgroup_driver, store: ctx.sandboxes.store, log: ctx.log };
    await mappingCriFields(criField, () => updatePodResources(deps, req.pod_sandbox_id, resourcesOf(req.resources) ?? {}, resourcesOf(req.overhead) ?? {}));
    return {};
  };
}
