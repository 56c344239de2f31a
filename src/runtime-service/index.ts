import type { RuntimeServiceDefinition } from '../generated/runtime/v1/RuntimeService';
import type { UnaryImpls } from '../server/rpc';
import type { RuntimeContext } from './context';
import { listPodSandbox } from './list-pod-sandbox';
import { podSandboxStatus } from './pod-sandbox-status';
import { removePodSandbox } from './remove-pod-sandbox';
import { runPodSandbox } from './run-pod-sandbox';
import { runtimeConfig } from './runtime-config';
import { status } from './status';
import { stopPodSandbox } from './stop-pod-sandbox';
import { updateRuntimeConfig } from './update-runtime-config';
import { version } from './version';

/**
 * The CRI RuntimeService methods peapod implements, by RPC name. Every method
 * not listed here answers UNIMPLEMENTED (see server/rpc.ts).
 */
export function runtimeServiceImpls(ctx: RuntimeContext): UnaryImpls<RuntimeServiceDefinition> {
  return {
    Version: version(ctx),
    Status: status(ctx),
    RuntimeConfig: runtimeConfig(ctx),
    UpdateRuntimeConfig: updateRuntimeConfig(ctx),
    RunPodSandbox: runPodSandbox(ctx),
    StopPodSandbox: stopPodSandbox(ctx),
    RemovePodSandbox: removePodSandbox(ctx),
    PodSandboxStatus: podSandboxStatus(ctx),
    ListPodSandbox: listPodSandbox(ctx),
  };
}
