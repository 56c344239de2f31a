import * as fs from 'node:fs';
import { writeFileAtomic } from '../../common/atomic-file';
import type { CniNetworkConfList } from './network-config';
import { execPlugin } from './plugin-exec';
import { CniRuntimeConfig, runtimeConfigFor } from './runtime-config';

/** The interface name of the pod's network inside its namespace. */
export const POD_IFNAME = 'eth0';

/**
 * What DEL needs to undo an ADD, cached on disk before ADD runs (and updated
 * with the result after), so DEL gets the same configuration even when the
 * files in the conf dir changed since, and even after a restart of
 * peapod-cri (the role of libcni's result cache).
 */
export interface CniAttachment {
  version: 1;
  /** The network configuration list used by ADD. */
  network: { name: string; cniVersion: string; plugins: Array<Record<string, unknown>> };
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS. */
  args: string;
  runtimeConfig: CniRuntimeConfig;
  /** The final result of ADD, once it succeeded. */
  result?: unknown;
}

/** The kubelet's CNI_ARGS for a pod (IgnoreUnknown first, as libcni callers do). */
export function podCniArgs(pod: { namespace: string; name: string; uid: string }, sandboxId: string): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${sandboxId}`,
    `K8S_POD_UID=${pod.uid}`,
  ].join(';');
}

/** The configuration one plugin of a list gets on stdin (CNI spec, "Network Configuration Lists"). */
function pluginConf(list: CniAttachment['network'], plugin: Record<string, unknown>, rc: CniRuntimeConfig, prevResult: unknown): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig = runtimeConfigFor(plugin, rc);
  if (runtimeConfig) conf.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

/** True when semantic version `v` (e.g. "1.0.0") is at least `min`. */
export function versionAtLeast(v: string, min: [number, number, number]): boolean {
  const parts = v.split('.').map((n) => parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((parts[i] ?? 0) !== min[i]) return (parts[i] ?? 0) > min[i];
  }
  return true;
}

/** Reads a cached attachment, or undefined when there is none. */
export function readAttachment(cacheFile: string): CniAttachment | undefined {
  try {
    return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as CniAttachment;
  } catch {
    return undefined;
  }
}

/** The parameters of one ADD besides its network configuration list. */
export interface AddParams {
  containerId: string;
  netns: string;
  args: string;
  runtimeConfig: CniRuntimeConfig;
  binDirs: string[];
}

/**
 * An attachment being written to its cache ahead of its ADD
 * (cacheAttachment), so the write overlaps what ADD waits for (the
 * network namespace being made).
 */
export interface CachedAttachment {
  cacheFile: string;
  attachment: CniAttachment;
  binDirs: string[];
  /** Resolves once the cache is on disk (atomic-file.ts); rejects with the fs error. */
  written: Promise<void>;
}

/**
 * ADD's first step, which needs no network namespace yet: the attachment
 * (network list, CNI_ARGS, runtime config; no result) written to
 * `cacheFile`, so a crash or a failure from the first plugin on can be
 * undone with DEL. The write starts at once; its promise is marked handled
 * (runAdd awaits it before the first plugin).
 * @param list the network configuration (from findNetworkConf)
 */
export function cacheAttachment(cacheFile: string, list: CniNetworkConfList, params: AddParams): CachedAttachment {
  const attachment: CniAttachment = {
    version: 1,
    network: { name: list.name, cniVersion: list.cniVersion, plugins: list.plugins as Array<Record<string, unknown>> },
    containerId: params.containerId,
    netns: params.netns,
    ifName: POD_IFNAME,
    args: params.args,
    runtimeConfig: params.runtimeConfig,
  };
  const written = writeFileAtomic(cacheFile, JSON.stringify(attachment));
  written.catch(() => undefined);
  return { cacheFile, attachment, binDirs: params.binDirs, written };
}

/**
 * ADD's plugins, once the cache is written (cacheAttachment): each plugin
 * in order, each given the previous plugin's result as `prevResult`; the
 * final result is the pod's, and is cached with the attachment.
 * @returns the final CNI result as soon as the last plugin has given it,
 *   and `resultCached`, which resolves once the cache holds it (the caller
 *   awaits it before the pod is ready; it is marked handled).
 * @throws the cache write's fs error (no plugin run), or CniPluginError of
 *   the failing plugin; the cache stays for the caller's DEL.
 */
export async function runAdd(cached: CachedAttachment): Promise<{ result: unknown; resultCached: Promise<void> }> {
  await cached.written;
  const { attachment } = cached;
  let prevResult: unknown;
  for (const plugin of attachment.network.plugins) {
    const conf = pluginConf(attachment.network, plugin, attachment.runtimeConfig, prevResult);
    prevResult = await execPlugin(String(plugin.type), conf, {
      command: 'ADD',
      containerId: attachment.containerId,
      netns: attachment.netns,
      ifName: attachment.ifName,
      args: attachment.args,
      binDirs: cached.binDirs,
    });
  }
  const withResult: CniAttachment = { ...attachment, result: prevResult };
  const resultCached = writeFileAtomic(cached.cacheFile, JSON.stringify(withResult));
  resultCached.catch(() => undefined);
  return { result: prevResult, resultCached };
}

/**
 * CNI ADD of a network configuration list: the attachment cached before
 * the first plugin runs (cacheAttachment), the plugins in order, and the
 * cache again with the result (runAdd).
 * @param list the network configuration (from findNetworkConf)
 * @returns the final CNI result, once it is cached.
 * @throws CniPluginError of the failing plugin; the cache stays for the
 *   caller's DEL.
 */
export async function addNetwork(cacheFile: string, list: CniNetworkConfList, params: AddParams): Promise<unknown> {
  const { result, resultCached } = await runAdd(cacheAttachment(cacheFile, list, params));
  await resultCached;
  return result;
}

/**
 * CNI DEL of a cached attachment: the plugins in reverse order, each given
 * the ADD result as `prevResult` (when ADD got that far). `netnsAlive` false
 * passes an empty CNI_NETNS, which the spec allows when the namespace is
 * gone, so plugins still release IPs and host-side rules. Removes the cache
 * when every plugin succeeded; without a cache it does nothing (DEL is
 * idempotent).
 * @throws CniPluginError of the first failing plugin (the cache stays so a
 *   later DEL can retry).
 */
export async function delNetwork(cacheFile: string, binDirs: string[], netnsAlive: boolean): Promise<void> {
  const a = readAttachment(cacheFile);
  if (!a) {
    await fs.promises.rm(cacheFile, { force: true });
    return;
  }
  // prevResult on DEL exists since CNI 0.4.0; older plugins get none.
  const prevResult = versionAtLeast(a.network.cniVersion, [0, 4, 0]) ? a.result : undefined;
  for (const plugin of [...a.network.plugins].reverse()) {
    const conf = pluginConf(a.network, plugin, a.runtimeConfig, prevResult);
    await execPlugin(String(plugin.type), conf, {
      command: 'DEL',
      containerId: a.containerId,
      netns: netnsAlive ? a.netns : '',
      ifName: a.ifName,
      args: a.args,
      binDirs,
    });
  }
  await fs.promises.rm(cacheFile, { force: true });
}
