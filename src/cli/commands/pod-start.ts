/**
 * `peapod pod start POD...`: starts pods, as `podman pod start`: a stopped
 * pod's network and namespaces are set up again, then its containers are
 * started; prints each pod's ID. An unknown pod is an error (125).
 */
import type { CliContext } from '../context';
import { startPod } from '../pod-lifecycle';
import { podNames } from '../pod-targets';
import { eachTargetPod } from '../pod-verb';

/** Flags of `pod start`. */
export interface PodStartOptions {
  all?: boolean;
  latest?: boolean;
  podIdFile?: string[];
}

/** Runs `pod start`; the pods are started one after another, each failure reported. */
export async function run(ctx: CliContext, args: string[], o: PodStartOptions): Promise<number> {
  const names = podNames(args, o.podIdFile);
  return eachTargetPod(ctx, names, o, 'start', (c, pod) => startPod(ctx, c, pod));
}
