import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse';
import type { RuntimeCondition } from '../../generated/runtime/v1/RuntimeCondition';
import { findNetworkConf, NetworkConfLookup } from '../cni/network-config';
import { CniPluginError, findPlugin } from '../cni/plugin-exec';
import type { RuntimeContext } from './context';
import { probeRuntime } from '../oci/runc';

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
 * CRI `Status`: the conditions RuntimeReady (the default runtime handler's
 * binary answers `--version`) and NetworkReady (a valid CNI network
 * configuration exists in `network.cni_conf_dir` and its plugins are in
 * `network.cni_bin_dirs`; false with reason NetworkPluginNotReady
 * otherwise). With `verbose`, `info.config` holds the effective
 * configuration as JSON and `info.network` the CNI network in use and the
 * pod CIDR the kubelet gave.
 */
export function status(ctx: RuntimeContext) {
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
    const response: StatusResponse = { status: { conditions: [runtimeReady, networkReady] } };
    if (req.verbose) {
      response.info = {
        config: JSON.stringify(ctx.config),
        network: JSON.stringify({ network: net.ok ? { name: net.conf.name, file: net.conf.file } : null, podCidr: ctx.network.podCidr }),
      };
    }
    return response;
  };
}
