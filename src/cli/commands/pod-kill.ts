/**
 * `peapod pod kill POD...`: sends `--signal` (default KILL) to the main
 * process of each running container of the pods, as `podman pod kill`;
 * prints each pod's ID. An unknown pod or signal is an error (125).
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError, formatError } from '../errors';
import { killPod } from '../pod-lifecycle';
import { parseSignal } from '../signal';
import { targetPods } from '../pods';

/** Flags of `pod kill`. */
export interface PodKillOptions {
  all?: boolean;
  latest?: boolean;
  signal?: string;
}

/** Runs `pod kill`. */
export async function run(ctx: CliContext, args: string[], o: PodKillOptions): Promise<number> {
  const signal = parseSignal(o.signal ?? 'KILL');
  if (o.all && args.length) throw new CliError('--all and pod names cannot be given together');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  const { pods } = targetPods(peapod, args, o, 'kill');
  let code = 0;
  for (const pod of pods) {
    try {
      await killPod(c, pod, signal);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(formatError(err, false));
      code = 125;
    }
  }
  return code;
}
