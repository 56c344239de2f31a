import type { RunPodSandboxRequest__Output } from '../../generated/runtime/v1/RunPodSandboxRequest';
import type { RunPodSandboxResponse } from '../../generated/runtime/v1/RunPodSandboxResponse';
import type { CallContext } from '../../server/rpc';
import { canonicalJson } from '../../server/retry-store';
import type { RuntimeContext } from './context';
import { metadataKey } from '../sandbox/record';
import { mappingCriFields } from './fields';
import { sandboxFieldPath, sandboxSpecOf } from './pod-sandbox-config';

/**
 * CRI `RunPodSandbox`: translates the config (pod-sandbox-config.ts) and has
 * the domain build the sandbox (sandbox/create.ts); returns its ID.
 *
 * A pod with the same metadata (name, namespace, uid, attempt) as an
 * existing sandbox is ALREADY_EXISTS naming that sandbox (a domain rule),
 * except for the kubelet's retry after a deadline: when the first call with
 * the identical config is still building, or finished after its caller
 * left, the retry gets that sandbox's ID (src/server/retry-store.ts).
 * @throws PeapodError NOT_FOUND for an unknown runtime_handler (config
 *   runtime.runtimes), INVALID_ARGUMENT for a bad config, ALREADY_EXISTS,
 *   or what building fails with.
 */
export function runPodSandbox(ctx: RuntimeContext) {
  return async (req: RunPodSandboxRequest__Output, call: CallContext): Promise<RunPodSandboxResponse> => {
    const handler = req.runtime_handler || ctx.config.runtime.default_runtime;
    const spec = sandboxSpecOf(req.config);
    const key = metadataKey(spec.metadata);
    const { id, how } = await ctx.retries.run(
      `pod ${key}`,
      canonicalJson({ config: req.config, handler }),
      call,
      () => mappingCriFields(sandboxFieldPath, () => ctx.sandboxes.create(spec, { runtimeHandler: handler, request: req.config })).then((r) => r.id),
      (sandboxId) => ctx.sandboxes.get(sandboxId) !== undefined,
    );
    if (how === 'joined') ctx.log.info({ pod: key, sandbox: id }, 'RunPodSandbox retry joins the run in progress');
    if (how === 'handed over') ctx.log.info({ pod: key, sandbox: id }, 'RunPodSandbox retry receives the sandbox that finished after its caller left');
    return { pod_sandbox_id: id };
  };
}
