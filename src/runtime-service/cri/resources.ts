import type { LinuxContainerResources, LinuxContainerResources__Output } from '../../generated/runtime/v1/LinuxContainerResources';
import type { ContainerResources } from '../container/spec';

/** An int64 of the CRI (a decimal string after decoding); 0 means "not set". */
function int(value: string | number | undefined): number {
  return value === undefined || value === '' ? 0 : Number(value);
}

/**
 * CRI LinuxContainerResources → peapod's ContainerResources. In the CRI a
 * value of 0 (or '') is "not set"; it becomes an absent field.
 * @returns undefined when the request carries no resources at all.
 */
export function resourcesOf(r: LinuxContainerResources__Output | null | undefined): ContainerResources | undefined {
  if (!r) return undefined;
  const out: ContainerResources = {};
  const set = <K extends keyof ContainerResources>(k: K, v: ContainerResources[K] | 0 | ''): void => {
    if (v !== 0 && v !== '' && v !== undefined) out[k] = v as ContainerResources[K];
  };
  set('cpuShares', int(r.cpu_shares));
  set('cpuQuota', int(r.cpu_quota));
  set('cpuPeriod', int(r.cpu_period));
  set('cpusetCpus', r.cpuset_cpus);
  set('cpusetMems', r.cpuset_mems);
  set('memoryLimitBytes', int(r.memory_limit_in_bytes));
  set('memorySwapLimitBytes', int(r.memory_swap_limit_in_bytes));
  set('oomScoreAdj', int(r.oom_score_adj));
  if (r.hugepage_limits.length > 0) out.hugepageLimits = r.hugepage_limits.map((h) => ({ pageSize: h.page_size, limitBytes: int(h.limit) }));
  if (Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

/** peapod's ContainerResources → CRI LinuxContainerResources (absent fields as the CRI's zero values), for ContainerStatus. */
export function criResourcesOf(r: ContainerResources): LinuxContainerResources {
  const s = (v: number | undefined): string => String(v ?? 0);
  return {
    cpu_period: s(r.cpuPeriod),
    cpu_quota: s(r.cpuQuota),
    cpu_shares: s(r.cpuShares),
    memory_limit_in_bytes: s(r.memoryLimitBytes),
    oom_score_adj: s(r.oomScoreAdj),
    cpuset_cpus: r.cpusetCpus ?? '',
    cpuset_mems: r.cpusetMems ?? '',
    hugepage_limits: (r.hugepageLimits ?? []).map((h) => ({ page_size: h.pageSize, limit: String(h.limitBytes) })),
    unified: { ...r.unified },
    memory_swap_limit_in_bytes: s(r.memorySwapLimitBytes),
  };
}
