import type { RuntimeServiceDefinition } from '../../generated/runtime/v1/RuntimeService';
import type { UnaryImpls } from '../../server/rpc';
import { attach } from './attach';
import { checkpointContainer } from './checkpoint-container';
import { checkpointPod } from './checkpoint-pod';
import type { RuntimeContext } from './context';
import { containerStats } from './container-stats';
import { containerStatus } from './container-status';
import { createContainer } from './create-container';
import { execSync } from './exec-sync';
import { listContainerStats } from './list-container-stats';
import { listContainers } from './list-containers';
import { listMetricDescriptors } from './list-metric-descriptors';
import { listPodSandboxMetrics } from './list-pod-sandbox-metrics';
import { listPodSandboxStats } from './list-pod-sandbox-stats';
import { podSandboxStats } from './pod-sandbox-stats';
import { removeContainer } from './remove-container';
import { restorePod } from './restore-pod';
import { reopenContainerLog } from './reopen-container-log';
import { startContainer } from './start-container';
import { stopContainer } from './stop-container';
import { updateContainerResources } from './update-container-resources';
import { updatePodSandboxResources } from './update-pod-sandbox-resources';
import { listPodSandbox } from './list-pod-sandbox';
import { podSandboxStatus } from './pod-sandbox-status';
import { removePodSandbox } from './remove-pod-sandbox';
import { runPodSandbox } from './run-pod-sandbox';
import { exec } from './exec';
import { portForward } from './port-forward';
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
  const s = ctx.streaming;
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
    CreateContainer: createContainer(ctx),
    StartContainer: startContainer(ctx),
    StopContainer: stopContainer(ctx),
    RemoveContainer: removeContainer(ctx),
    ContainerStatus: containerStatus(ctx),
    ListContainers: listContainers(ctx),
    UpdateContainerResources: updateContainerResources(ctx),
    UpdatePodSandboxResources: updatePodSandboxResources(ctx),
    ReopenContainerLog: reopenContainerLog(ctx),
    ExecSync: execSync(ctx),
    ContainerStats: containerStats(ctx),
    ListContainerStats: listContainerStats(ctx),
    PodSandboxStats: podSandboxStats(ctx),
    ListPodSandboxStats: listPodSandboxStats(ctx),
    CheckpointContainer: checkpointContainer(ctx),
    CheckpointPod: checkpointPod(ctx),
    RestorePod: restorePod(ctx),
    Exec: exec({ backend: s.remoteCommand, register: s.register }),
    Attach: attach({ backend: s.remoteCommand, register: s.register }),
    PortForward: portForward({ backend: s.portForward, register: s.register }),
    ListMetricDescriptors: listMetricDescriptors(),
    ListPodSandboxMetrics: listPodSandboxMetrics(ctx),
  };
}
