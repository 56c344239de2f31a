import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse';
import type { RuntimeCondition } from '../../generated/runtime/v1/RuntimeCondition';
import { findNetworkConf, NetworkConfLookup } from '../cni/network-config';
import { CniPluginError, findPlugin } from '../cni/plugin-exec';
import type { RuntimeContext } from './context';
import { probeRuntime } from '../oci/runc';
import { handlerFeatures, kernelSupportsRecursiveReadOnly, RuntimeFeaturesCache } from '../oci/runtime-features';
import type { RuntimeHandler } from '../../generated/runtime/v1/RuntimeHandler';
import type { RuntimeFeatures } from '../../generated/runtime/v1/RuntimeFeatures';

/** CRI condition type: the runtime can run containers. */
export const RUNTIME_READY = 'RuntimeReady';
/** CRI condition type: pod networking is configured. */
export const NETWORK_READY = 'NetworkReady';
/** Reason the kubelet and CRI-O use while no CNI configuration exists. */
export const NETWORK_PLUGIN_NOT_READY = 'NetworkPluginNotReady';

/**
 * Why pod networking is not ready, or null when it is: a valid network
 * configuration must exist in `confDir` (looked up on every call, so a
 * configuration written later turns NetworkReady true without a restart)
 * and every plugin it names must be found in `binDirs`.
 */
export function networkProblem(net: NetworkConfLookup, binDirs: string[]): string | null {
  if (!net.ok) return net.reason;
  for (const plugin of net.conf.plugins) {
    try {
      findPlugin(plugin.type, binDirs);
    } catch (err) {
      return `${net.conf.file}: ${err instanceof CniPluginError ? err.msg : String(err)}`;
    }
  }
  return null;
}

/**
 * The node-wide CRI RuntimeFeatures peapod has: none of the three yet
 * (CreateContainer does not apply `supplemental_groups_policy` Strict, pods
 * have no user namespace, and `Mount.mount_options` are not passed on), so
 * the kubelet keeps those features off for this node.
 */
export const RUNTIME_FEATURES: Readonly<RuntimeFeatures> = Object.freeze({
  supplemental_groups_policy: false,
  user_namespaces_host_network: false,
  mount_options: false,
});

/**
 * The CRI runtime handlers, each with its features (oci/runtime-features.ts
 * handlerFeatures, from `<runtime> features` run once per runtime), in the
 * order of `runtime.runtimes`, plus the default handler again under the name
 * "" (the kubelet looks the default up by the empty name; containerd answers
 * the same way).
 * @returns the handlers, and the problems of runtimes that could not say
 *   their features (those handlers claim none).
 */
export async function runtimeHandlers(
  runtimes: Readonly<Record<string, { runtime_path: string }>>,
  defaultRuntime: string,
  cache: RuntimeFeaturesCache,
  kernelRro: boolean = kernelSupportsRecursiveReadOnly(),
): Promise<{ handlers: RuntimeHandler[]; problems: Record<string, string> }> {
  const handlers: RuntimeHandler[] = [];
  const problems: Record<string, string> = {};
  for (const [name, rt] of Object.entries(runtimes)) {
    const { features, problem } = await cache.get(rt.runtime_path);
    if (problem) problems[name] = problem;
    const f = handlerFeatures(features, kernelRro);
    const handler: RuntimeHandler = { name, features: { recursive_read_only_mounts: f.recursiveReadOnlyMounts, user_namespaces: f.userNamespaces } };
    handlers.push(handler);
    if (name === defaultRuntime) handlers.push({ ...handler, name: '' });
  }
  return { handlers, problems };
}

/**
 * CRI `Status`: the conditions RuntimeReady (the default runtime handler's
 * binary answers `--version`) and NetworkReady (a valid CNI network
 * configuration exists in `network.cni_conf_dir` and its plugins are in
 * `network.cni_bin_dirs`; false with reason NetworkPluginNotReady
 * otherwise), the runtime handlers with their features (runtimeHandlers)
 * and the node's RuntimeFeatures (RUNTIME_FEATURES), on every call as
 * containerd and CRI-O send them (the kubelet 1.30+ reads them from its
 * periodic, non-verbose Status). With `verbose`, `info` holds, as
 * containerd fills it: `config` the effective configuration as JSON,
 * `cniconfig` the CNI network in use (name and file, or null) and
 * `lastCNILoadStatus` "OK" or why NetworkReady is false; peapod adds
 * `network` (the network and the pod CIDR the kubelet gave), `node` (the
 * Node.js version, where containerd puts `golang`) and `runtimeHandlers`
 * (each handler's runtime path, the features its runtime printed, and the
 * problem of one that could not say).
 */
export function status(ctx: RuntimeContext) {
  const featuresCache = new RuntimeFeaturesCache();
  return async (req: StatusRequest__Output): Promise<StatusResponse> => {
    const handler = ctx.config.runtime.runtimes[ctx.config.runtime.default_runtime];
    const runtimeProblem = await probeRuntime(handler.runtime_path);
    const runtimeReady: RuntimeCondition = runtimeProblem
      ? { type: RUNTIME_READY, status: false, reason: 'OCIRuntimeNotReady', message: runtimeProblem }
      : { type: RUNTIME_READY, status: true, reason: '', message: '' };
    const net = findNetworkConf(ctx.config.network.cni_conf_dir);
    const netProblem = networkProblem(net, ctx.config.network.cni_bin_dirs);
    const networkReady: RuntimeCondition =
      netProblem === null
        ? { type: NETWORK_READY, status: true, reason: '', message: '' }
        : { type: NETWORK_READY, status: false, reason: NETWORK_PLUGIN_NOT_READY, message: `Network plugin returns error: ${netProblem}` };
    const { runtimes, default_runtime } = ctx.config.runtime;
    const { handlers, problems } = await runtimeHandlers(runtimes, default_runtime, featuresCache);
    const response: StatusResponse = { status: { conditions: [runtimeReady, networkReady] }, runtime_handlers: handlers, features: { ...RUNTIME_FEATURES } };
    if (req.verbose) {
      const network = net.ok ? { name: net.conf.name, file: net.conf.file } : null;
      const handlerInfo: Record<string, unknown> = {};
      for (const [name, rt] of Object.entries(runtimes)) {
        const { features } = await featuresCache.get(rt.runtime_path);
        handlerInfo[name] = { runtimePath: rt.runtime_path, features, ...(problems[name] ? { problem: problems[name] } : {}) };
      }
      response.info = {
        config: JSON.stringify(ctx.config),
        cniconfig: JSON.stringify(network),
        lastCNILoadStatus: netProblem === null ? 'OK' : netProblem,
        network: JSON.stringify({ network, podCidr: ctx.network.podCidr }),
        node: JSON.stringify(process.version),
        runtimeHandlers: JSON.stringify(handlerInfo),
      };
    }
    return response;
  };
}
