/**
 * `peapod pod restart POD...`: as `podman pod restart`, the pod's running
 * containers are stopped (their stop signal, 10 s, SIGKILL) and every
 * container started again; a stopped pod is started; prints each pod's ID.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { startPod } from '../pod-lifecycle';
import { podContainers, targetPods } from '../pods';

/** Flags of `pod restart`. */
export interface PodRestartOptions {
  all?: boolean;
  latest?: boolean;
}

/** Podman's default stop timeout of a container. */
const STOP_TIMEOUT_SEC = 10;

/** Runs `pod restart`. */
export async function run(ctx: CliContext, args: string[], o: PodRestartOptions): Promise<number> {
  if (o.all && args.length) throw new CliError('--all and pod names cannot be given together');
  const peapod = ctx.peapod();
  await peapod.recover({ reconcileRuntime: false, watchExits: true });
  const { pods } = targetPods(peapod, args, o, 'restart');
  let code = 0;
  for (const pod of pods) {
    try {
      const running = (await podContainers(peapod, pod.id)).filter((c) => c.state === 'running');
      await Promise.all(running.map((c) => peapod.containers.stop(c.id, STOP_TIMEOUT_SEC)));
      await startPod(peapod, pod);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(`Error: ${(err as Error).message}\n`);
      code = 125;
    }
  }
  return code;
}
