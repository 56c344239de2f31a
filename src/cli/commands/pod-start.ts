/**
 * `peapod pod start POD...`: starts pods, as `podman pod start`: a stopped
 * pod's network and namespaces are set up again, then its containers are
 * started; prints each pod's ID. An unknown pod is an error (125).
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError, formatError } from '../errors';
import { startPod } from '../pod-lifecycle';
import { podNames } from '../pod-targets';
import { targetPods } from '../pods';

/** Flags of `pod start`. */
export interface PodStartOptions {
  all?: boolean;
  latest?: boolean;
  podIdFile?: string[];
}

/** Runs `pod start`; the pods are started one after another, each failure reported. */
export async function run(ctx: CliContext, args: string[], o: PodStartOptions): Promise<number> {
  const names = podNames(args, o.podIdFile);
  if (o.all && names.length) throw new CliError('--all and pod names cannot be given together');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  const { pods } = targetPods(peapod, names, o, 'start');
  let code = 0;
  for (const pod of pods) {
    try {
      await startPod(ctx, c, pod);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(formatError(err, false));
      code = 125;
    }
  }
  return code;
}
