/**
 * `peapod pod rm POD...`: removes pods with their containers, as
 * `podman pod rm`: a pod with a running container is refused unless
 * `--force` (which stops the containers, their stop signal then SIGKILL
 * after `--time`); prints each removed pod's ID. Exit codes (Podman's):
 * 0 all removed; 1 a pod was not found (and nothing else failed); 125
 * any other failure. `--ignore` (and `--force`) skip pods that do not exist.
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError, formatError } from '../errors';
import { stopPod, stopTimeout } from '../pod-lifecycle';
import { podNames } from '../pod-targets';
import { findPod, listPods, noSuchPod, podContainers } from '../pods';

/** Flags of `pod rm`. */
export interface PodRmOptions {
  all?: boolean;
  force?: boolean;
  ignore?: boolean;
  latest?: boolean;
  podIdFile?: string[];
  time?: string;
}

/** Runs `pod rm`; errors per pod are printed and folded into the exit code. */
export async function run(ctx: CliContext, args: string[], o: PodRmOptions): Promise<number> {
  const timeout = stopTimeout(o.time);
  const names = podNames(args, o.podIdFile);
  if (o.all && names.length) throw new CliError('--all and pod names cannot be given together');
  if (!o.all && !o.latest && names.length === 0) throw new CliError('you must provide at least one pod name or ID (or --all or --latest) to remove');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  const pods = listPods(peapod);
  const targets = o.all ? pods.map((p) => p.id) : o.latest ? pods.slice(-1).map((p) => p.id) : names;
  let notFound = false;
  let other = false;
  for (const name of targets) {
    try {
      const pod = findPod(pods, name);
      if (!pod) {
        if (o.ignore || o.force) continue;
        notFound = true;
        ctx.io.stderr.write(formatError(noSuchPod(name), false));
        continue;
      }
      const running = (await podContainers(peapod, pod.id)).filter((r) => r.state === 'running');
      if (running.length && !o.force) {
        throw new CliError(`pod ${pod.metadata.name} has running containers (${running.map((r) => r.metadata.name).join(', ')}): stop it first, or remove it with --force`);
      }
      if (o.force) await stopPod(ctx, c, pod, timeout);
      await peapod.sandboxes.remove(pod.id);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      other = true;
      ctx.io.stderr.write(formatError(err, false));
    }
  }
  return other ? 125 : notFound ? 1 : 0;
}
