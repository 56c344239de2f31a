import * as fs from 'node:fs';
import * as path from 'node:path';
import { quoteInput } from '../../common/bounded-text';
import { internal, invalidArgument, notFound, wrongState } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { inUserNamespace } from '../../common/userns';
import type { ContainerResources } from '../container/spec';
import { isCpuList, MAX_CPUSET_LENGTH } from '../container/resource-bounds';
import type { SandboxStore } from './store';

/**
 * In-place pod resize: the pod-level cgroup limits of a pod sandbox
 * (KEP-1287's UpdatePodSandboxResources, KEP-2837 pod-level resources).
 *
 * The pod cgroup is the one peapod makes with the cgroupfs driver,
 * `<cgroup parent>/pod-<id>` (cgroups.ts), with one directory per mounted
 * hierarchy (hybrid mode: each v1 controller and the unified tree). Its
 * limit is the sum of the containers' resources and the pod's overhead, as
 * the kubelet sizes a pod cgroup: memory, CPU shares, CPU quota (the
 * overhead's quota scaled to the resources' period), hugepage limits;
 * cpusets are the resources'. The same setting is written in cgroup v1
 * terms (`memory.limit_in_bytes`, `cpu.shares`, `cpu.cfs_quota_us`, …) in a
 * v1 hierarchy and in v2 terms (`memory.max`, `cpu.weight`, `cpu.max`, …)
 * where the unified tree has that controller; `unified` entries go to the
 * unified tree only. oom_score_adj and the swap limit are per process and
 * per container: they are not applied to a pod.
 *
 * With the systemd driver and rootless the pod cgroup is not peapod's (a
 * slice of the kubelet's, or none): nothing is written and the call
 * succeeds, as containerd answers it (it only hands the values to NRI).
 */

/** Most `unified` entries accepted. */
const MAX_UNIFIED_ENTRIES = 64;
/** Most hugepage limits accepted. */
const MAX_HUGEPAGE_LIMITS = 16;

/** One cgroup file to write: by controller, its name and value in v1 and in v2 terms. */
export interface CgroupSetting {
  controller: 'memory' | 'cpu' | 'cpuset' | 'hugetlb';
  v1?: { file: string; value: string };
  v2?: { file: string; value: string };
}

const PAGE_SIZE = /^\d+(KB|MB|GB)$/;
const UNIFIED_KEY = /^[a-z]+\.[a-z0-9_.]+$/;

function checkedInt(v: number | undefined, field: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalidArgument(`${v} is out of range (${min} to ${max})`, { field });
  return v;
}

/** runc's cgroup v1 shares → v2 weight (libcontainer/cgroups ConvertCPUSharesToCgroupV2Value). */
export function cpuWeightOfShares(shares: number): number {
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/**
 * The cgroup settings of a pod: `resources` (the sum of its containers'
 * resources, as the kubelet sends it) plus `overhead` (the RuntimeClass
 * overhead), each checked.
 * @throws InvalidArgumentError naming the field (`resources.cpuShares`,
 *   `overhead.memoryLimitBytes`, …): a negative memory limit; CPU shares
 *   outside 2..262144; a period outside 1 ms..1 s; a quota that is not -1
 *   (unlimited) or at least 1 ms; a malformed cpuset or hugepage size; a
 *   unified key that is not `<controller>.<file>`; more than 64 unified
 *   entries or 16 hugepage limits.
 */
export function podCgroupSettings(resources: ContainerResources, overhead: ContainerResources = {}): { settings: CgroupSetting[]; unified: Record<string, string> } {
  for (const [name, r] of [['resources', resources], ['overhead', overhead]] as const) {
    checkedInt(r.memoryLimitBytes, `${name}.memoryLimitBytes`, 0, Number.MAX_SAFE_INTEGER);
    checkedInt(r.cpuShares, `${name}.cpuShares`, 2, 262144);
    checkedInt(r.cpuPeriod, `${name}.cpuPeriod`, 1000, 1_000_000);
    if (r.cpuQuota !== undefined && r.cpuQuota !== -1) checkedInt(r.cpuQuota, `${name}.cpuQuota`, 1000, Number.MAX_SAFE_INTEGER);
    for (const [key, v] of [['cpusetCpus', r.cpusetCpus], ['cpusetMems', r.cpusetMems]] as const) {
      if (v !== undefined && !isCpuList(v)) throw invalidArgument(`${quoteInput(v)} is not a cpu list like 0-3,5`, { field: `${name}.${key}` });
    }
    if ((r.hugepageLimits?.length ?? 0) > MAX_HUGEPAGE_LIMITS) throw invalidArgument(`more than ${MAX_HUGEPAGE_LIMITS} hugepage limits`, { field: `${name}.hugepageLimits` });
    (r.hugepageLimits ?? []).forEach((h, i) => {
      if (!PAGE_SIZE.test(h.pageSize)) throw invalidArgument(`page size ${quoteInput(h.pageSize)} is not like 2MB or 1GB`, { field: `${name}.hugepageLimits[${i}].pageSize` });
      checkedInt(h.limitBytes, `${name}.hugepageLimits[${i}].limitBytes`, 0, Number.MAX_SAFE_INTEGER);
    });
  }
  const unified = { ...resources.unified, ...overhead.unified };
  if (Object.keys(unified).length > MAX_UNIFIED_ENTRIES) throw invalidArgument(`more than ${MAX_UNIFIED_ENTRIES} unified entries`, { field: 'resources.unified' });
  for (const [k, v] of Object.entries(unified)) {
    if (!UNIFIED_KEY.test(k)) throw invalidArgument(`${quoteInput(k)} is not a cgroup v2 file name like memory.high`, { field: 'resources.unified' });
    if (v.length > MAX_CPUSET_LENGTH || v.includes('\n')) throw invalidArgument(`the value of ${k} is longer than ${MAX_CPUSET_LENGTH} characters or has a newline`, { field: 'resources.unified' });
  }

  const settings: CgroupSetting[] = [];
  const sum = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0));
  const memory = resources.memoryLimitBytes === undefined ? undefined : sum(resources.memoryLimitBytes, overhead.memoryLimitBytes);
  if (memory !== undefined) settings.push({ controller: 'memory', v1: { file: 'memory.limit_in_bytes', value: String(memory) }, v2: { file: 'memory.max', value: String(memory) } });
  const shares = resources.cpuShares === undefined ? undefined : sum(resources.cpuShares, overhead.cpuShares);
  if (shares !== undefined) {
    const capped = Math.min(shares, 262144);
    settings.push({ controller: 'cpu', v1: { file: 'cpu.shares', value: String(capped) }, v2: { file: 'cpu.weight', value: String(cpuWeightOfShares(capped)) } });
  }
  const period = resources.cpuPeriod ?? overhead.cpuPeriod ?? 100_000;
  if (resources.cpuPeriod !== undefined || resources.cpuQuota !== undefined) {
    const quotaOf = (r: ContainerResources): number | undefined => (r.cpuQuota === undefined || r.cpuQuota === -1 ? r.cpuQuota : Math.round((r.cpuQuota * period) / (r.cpuPeriod ?? period)));
    const rq = quotaOf(resources);
    const oq = quotaOf(overhead);
    const quota = rq === undefined ? undefined : rq === -1 ? -1 : rq + (oq === undefined || oq === -1 ? 0 : oq);
    settings.push({ controller: 'cpu', v1: { file: 'cpu.cfs_period_us', value: String(period) } });
    if (quota !== undefined) settings.push({ controller: 'cpu', v1: { file: 'cpu.cfs_quota_us', value: String(quota) } });
    settings.push({ controller: 'cpu', v2: { file: 'cpu.max', value: `${quota === undefined || quota === -1 ? 'max' : quota} ${period}` } });
  }
  if (resources.cpusetCpus !== undefined) settings.push({ controller: 'cpuset', v1: { file: 'cpuset.cpus', value: resources.cpusetCpus }, v2: { file: 'cpuset.cpus', value: resources.cpusetCpus } });
  if (resources.cpusetMems !== undefined) settings.push({ controller: 'cpuset', v1: { file: 'cpuset.mems', value: resources.cpusetMems }, v2: { file: 'cpuset.mems', value: resources.cpusetMems } });
  const hugepages = new Map<string, number>();
  for (const h of [...(resources.hugepageLimits ?? []), ...(overhead.hugepageLimits ?? [])]) hugepages.set(h.pageSize, (hugepages.get(h.pageSize) ?? 0) + h.limitBytes);
  for (const [size, limit] of hugepages) settings.push({ controller: 'hugetlb', v1: { file: `hugetlb.${size}.limit_in_bytes`, value: String(limit) }, v2: { file: `hugetlb.${size}.max`, value: String(limit) } });
  return { settings, unified };
}

/** A mounted cgroup hierarchy: its mount point, version and (v1) controllers. */
export interface CgroupHierarchy {
  mountPoint: string;
  version: 1 | 2;
  /** The v1 controllers of the mount (from its options); [] for v2 (read per cgroup from cgroup.controllers). */
  controllers: string[];
}

/** The cgroup hierarchies under /sys/fs/cgroup, from /proc/self/mountinfo. */
export function cgroupHierarchies(mountinfo: string = fs.readFileSync('/proc/self/mountinfo', 'utf8')): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const mountPoint = line.split(' ')[4];
    if (!mountPoint?.startsWith('/sys/fs/cgroup')) continue;
    if (fstype === 'cgroup2') out.push({ mountPoint, version: 2, controllers: [] });
    else if (fstype === 'cgroup') out.push({ mountPoint, version: 1, controllers: superOptions.split(',').filter((o) => ['memory', 'cpu', 'cpuset', 'hugetlb'].includes(o)) });
  }
  return out;
}

function readControllers(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Writes the settings into the pod cgroup `cgroupPath` of every hierarchy
 * that has the setting's controller, in order (the period before the quota).
 * All or nothing: each file's value is read before it is written, and when
 * the kernel refuses a value the files already written get their values
 * back, newest first, so a failed resize leaves the limits as they were.
 * @returns the files written (absolute paths).
 * @throws InvalidArgumentError when `unified` is given and no cgroup v2
 *   hierarchy has the controller; WrongStateError when the kernel refuses a
 *   value as busy (a memory limit below what the pod uses: EBUSY); an
 *   InvalidArgumentError for a value it refuses as invalid or out of range
 *   (EINVAL; ERANGE, e.g. a cpuset naming CPUs the machine lacks);
 *   InternalError for any other failure. A restore that fails too is named
 *   in the message.
 */
export function writePodCgroup(cgroupPath: string, settings: CgroupSetting[], unified: Record<string, string>, hierarchies: CgroupHierarchy[] = cgroupHierarchies()): string[] {
  const written: string[] = [];
  const previous: Array<[string, string]> = [];
  const refusal = (file: string, value: string, err: unknown): Error => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY') return wrongState(`the kernel refused ${value} for ${file} as busy (a limit below the pod's current usage?)`, { cause: err });
    if (code === 'EINVAL' || code === 'ERANGE') return invalidArgument(`the kernel refused ${value} for ${file} as invalid`, { cause: err });
    return internal(`writing ${value} to ${file}: ${code ?? (err as Error).message}`, { cause: err });
  };
  const write = (file: string, value: string): void => {
    try {
      const before = readIfPresent(file);
      fs.writeFileSync(file, value);
      if (before !== undefined) previous.push([file, before]);
      written.push(file);
    } catch (err) {
      const e = refusal(file, value, err);
      const unrestored = restoreCgroupFiles(previous);
      if (unrestored.length > 0) e.message += `; restoring the earlier values of ${unrestored.join(', ')} failed too`;
      throw e;
    }
  };
  const plan: Array<[string, string]> = [];
  for (const h of hierarchies) {
    const dir = path.join(h.mountPoint, cgroupPath);
    if (!fs.existsSync(dir)) continue;
    const controllers = h.version === 2 ? readControllers(dir) : h.controllers;
    for (const s of settings) {
      const form = h.version === 2 ? s.v2 : s.v1;
      if (form && controllers.includes(s.controller)) plan.push([path.join(dir, form.file), form.value]);
    }
    if (h.version === 2) {
      for (const [k, v] of Object.entries(unified)) {
        if (controllers.includes(k.split('.')[0])) plan.push([path.join(dir, k), v]);
      }
    }
  }
  for (const k of Object.keys(unified)) {
    if (!plan.some(([file]) => file.endsWith(`/${k}`))) throw invalidArgument(`unified entry ${k} needs a cgroup v2 hierarchy with the ${k.split('.')[0]} controller, which this node's pod cgroup does not have`, { field: 'resources.unified' });
  }
  for (const [file, value] of plan) write(file, value);
  return written;
}

/** A cgroup file's value, or undefined when it cannot be read (a cgroupfs file always can). */
function readIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Writes back the values read before a resize, newest first.
 * @returns the files whose value could not be written back.
 */
function restoreCgroupFiles(previous: ReadonlyArray<[string, string]>): string[] {
  const failed: string[] = [];
  for (const [file, value] of [...previous].reverse()) {
    try {
      fs.writeFileSync(file, value);
    } catch {
      failed.push(file);
    }
  }
  return failed;
}

/** What updatePodResources needs. */
export interface PodResourcesDeps {
  cgroupDriver: 'cgroupfs' | 'systemd';
  store: SandboxStore;
  log: Logger;
}

/**
 * Resizes pod `id` in place: checks the values (podCgroupSettings) and
 * writes them to its pod cgroup (writePodCgroup), under the pod's lock.
 * With the systemd driver or rootless the values are checked and nothing is
 * written (the module doc says why).
 * @param id the pod's full ID or a unique prefix
 * @returns the files written.
 * @throws NotFoundError for an unknown pod; WrongStateError for a pod whose
 *   cgroup is gone (removed meanwhile); the errors of podCgroupSettings and
 *   writePodCgroup.
 */
export async function updatePodResources(deps: PodResourcesDeps, id: string, resources: ContainerResources, overhead: ContainerResources = {}): Promise<string[]> {
  const found = deps.store.get(id);
  if (!found) throw notFound(`pod sandbox ${quoteInput(id)} not found`);
  const { settings, unified } = podCgroupSettings(resources, overhead);
  return deps.store.withLock(found.id, async () => {
    const rec = deps.store.get(found.id);
    if (!rec) throw notFound(`pod sandbox ${quoteInput(id)} not found`);
    if (deps.cgroupDriver !== 'cgroupfs' || inUserNamespace() || !rec.cgroupParent.startsWith('/')) {
      deps.log.debug({ sandbox: rec.id, cgroupParent: rec.cgroupParent }, 'pod resources checked; the pod cgroup is not peapod\'s, nothing written');
      return [];
    }
    const hierarchies = cgroupHierarchies();
    if (!hierarchies.some((h) => fs.existsSync(path.join(h.mountPoint, rec.cgroupParent)))) throw wrongState(`the cgroup ${rec.cgroupParent} of pod sandbox ${rec.id} does not exist`);
    const written = writePodCgroup(rec.cgroupParent, settings, unified, hierarchies);
    deps.log.debug({ sandbox: rec.id, files: written.length }, 'pod resources updated');
    return written;
  });
}
