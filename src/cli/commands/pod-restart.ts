/**
 * `peapod pod restart POD...`: as `podman pod restart`, the pod's running
 * containers are stopped (their stop signal, their --stop-timeout (10 s), SIGKILL) and every
 * container started again; a stopped pod is started; prints each pod's ID.
 */
import type { CliContext } from '../context';
import { startPod, stopPodContainers } from '../pod-lifecycle';
import { eachTargetPod } from '../pod-verb';

/** Flags of `pod restart`. */
export interface PodRestartOptions {
  all?: boolean;
  latest?: boolean;
}

/** Runs `pod restart`. */
export async function run(ctx: CliContext, args: string[], o: PodRestartOptions): Promise<number> {
  return eachTargetPod(ctx, args, o, 'restart', async (c, pod) => {
    await stopPodContainers(ctx, c, pod, undefined);
    await startPod(ctx, c, pod);
  });
}
