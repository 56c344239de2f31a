/**
 * `peapod pod restart POD...`: as `podman pod restart`, the pod's running
 * containers are stopped (their stop signal, their --stop-timeout (10 s), SIGKILL) and every
 * container started again; a stopped pod is started; prints each pod's ID.
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError, formatError } from '../errors';
import { startPod, stopPodContainers } from '../pod-lifecycle';
import { targetPods } from '../pods';

/** Flags of `pod restart`. */
export interface PodRestartOptions {
  all?: boolean;
  latest?: boolean;
}

/** Runs `pod restart`. */
export async function run(ctx: CliContext, args: string[], o: PodRestartOptions): Promise<number> {
  if (o.all && args.length) throw new CliError('--all and pod names cannot be given together');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  const { pods } = targetPods(peapod, args, o, 'restart');
  let code = 0;
  for (const pod of pods) {
    try {
      await stopPodContainers(ctx, c, pod, undefined);
      await startPod(ctx, c, pod);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(formatError(err, false));
      code = 125;
    }
  }
  return code;
}
