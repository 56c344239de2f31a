/**
 * `peapod pod stop POD...`: stops pods, as `podman pod stop`: each running
 * container gets its stop signal and `--time` seconds (default 10) before
 * SIGKILL, then the pod's network and processes are torn down (its
 * namespaces stay for a start again); prints each pod's ID. An unknown
 * pod is an error (125) unless `--ignore`.
 */
import type { CliContext } from '../context';
import { stopPod, stopTimeout } from '../pod-lifecycle';
import { podNames } from '../pod-targets';
import { eachTargetPod } from '../pod-verb';

/** Flags of `pod stop`. */
export interface PodStopOptions {
  all?: boolean;
  ignore?: boolean;
  latest?: boolean;
  podIdFile?: string[];
  time?: string;
}

/** Runs `pod stop`. */
export async function run(ctx: CliContext, args: string[], o: PodStopOptions): Promise<number> {
  const timeout = stopTimeout(o.time);
  const names = podNames(args, o.podIdFile);
  return eachTargetPod(ctx, names, o, 'stop', (c, pod) => stopPod(ctx, c, pod, timeout));
}
