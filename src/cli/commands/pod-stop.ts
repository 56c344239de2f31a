/**
 * `peapod pod stop POD...`: stops pods, as `podman pod stop`: each running
 * container gets its stop signal and `--time` seconds (default 10) before
 * SIGKILL, then the pod's network and processes are torn down (its
 * namespaces stay for a start again); prints each pod's ID. An unknown
 * pod is an error (125) unless `--ignore`.
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError, formatError } from '../errors';
import { stopPod, stopTimeout } from '../pod-lifecycle';
import { podNames } from '../pod-targets';
import { targetPods } from '../pods';

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
  if (o.all && names.length) throw new CliError('--all and pod names cannot be given together');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  const { pods } = targetPods(peapod, names, o, 'stop');
  let code = 0;
  for (const pod of pods) {
    try {
      await stopPod(ctx, c, pod, timeout);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(formatError(err, false));
      code = 125;
    }
  }
  return code;
}
