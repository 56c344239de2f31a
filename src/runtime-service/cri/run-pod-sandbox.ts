import type { RunPodSandboxRequest__Output } from '../../generated/runtime/v1/RunPodSandboxRequest';
import type { RunPodSandboxResponse } from '../../generated/runtime/v1/RunPodSandboxResponse';
import { alreadyExists, notFound } from '../../common/errors';
import type { CallContext } from '../../server/rpc';
import type { RuntimeContext } from './context';
import { createSandbox } from '../sandbox/create';
import { metadataKey } from '../sandbox/record';
import { canonicalJson } from '../sandbox/run-reservations';
import { sandboxSpecOf } from './pod-sandbox-config';

/**
 * CRI `RunPodSandbox`: checks the config and runtime handler, then builds
 * the sandbox (see sandbox/create.ts) and returns its ID.
 *
 * A pod with the same metadata (name, namespace, uid, attempt) as an
 * existing sandbox is ALREADY_EXISTS naming that sandbox, except for the
 * kubelet's retry after a deadline: when the first call with the identical
 * config is still building, or finished after its caller left, the retry
 * gets that sandbox's ID.
 * @throws PeapodError NOT_FOUND for an unknown runtime_handler (config
 *   runtime.runtimes), INVALID_ARGUMENT for a bad config, ALREADY_EXISTS,
 *   or what building fails with.
 */
export function runPodSandbox(ctx: RuntimeContext) {
  return async (req: RunPodSandboxRequest__Output, call: CallContext): Promise<RunPodSandboxResponse> => {
    const handler = req.runtime_handler || ctx.config.runtime.default_runtime;
    if (!ctx.config.runtime.runtimes[handler]) {
      throw notFound(`runtime_handler "${handler}" is not configured (known: ${Object.keys(ctx.config.runtime.runtimes).join(', ')})`);
    }
    const spec = sandboxSpecOf(req.config);
    const key = metadataKey(spec.metadata);
    const configJson = canonicalJson({ config: req.config, handler });
    const runs = ctx.sandboxRuns;

    const running = runs.running(key);
    if (running) {
      if (running.config !== configJson) throw alreadyExists(`pod sandbox ${key} is already being created with a different config`);
      ctx.log.info({ pod: key }, 'RunPodSandbox retry joins the run in progress');
      return { pod_sandbox_id: await runs.join(key)! };
    }
    const claimed = runs.claim(key, configJson);
    if (claimed && ctx.sandboxes.get(claimed)) return { pod_sandbox_id: claimed };

    // The domain refuses a second pod of the same name (ALREADY_EXISTS naming the first).
    const id = createSandbox({ config: ctx.config, log: ctx.log, store: ctx.sandboxes }, spec, handler, req.config).then((r) => r.id);
    runs.start(key, configJson, id);
    const entry = runs.running(key)!;
    const sandboxId = await id;
    if (call.cancelled && runs.leaveUnclaimed(key, configJson, sandboxId, entry.joined)) {
      ctx.log.info({ sandbox: sandboxId }, 'RunPodSandbox finished after its caller left; keeping the sandbox for the retry');
    }
    return { pod_sandbox_id: sandboxId };
  };
}
