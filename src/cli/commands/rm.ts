/**
 * `peapod rm [-f] [-t SECONDS] CONTAINER...` (or `--all`): removes each
 * container, its writable layer and, unless it is in a pod, its sandbox
 * (network, namespaces); prints each as named. A running container needs
 * `--force` (it is stopped first, as `stop`). Exit codes (Podman's): 1 when
 * a container was not found, 2 when one is running without --force, 125
 * other errors. peapod-cri's containers are refused.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { openContainers, removeCliContainer } from '../containers/domain';
import { parseTime } from './stop';
import { eachContainer } from '../containers/targets';

/** Flags of `rm`. */
export interface RmOptions {
  all?: boolean;
  force?: boolean;
  ignore?: boolean;
  time?: string;
}

/** Podman's exit code for a running container removed without --force. */
const EXIT_RUNNING = 2;
/** Podman's exit code for a container that does not exist. */
const EXIT_NO_SUCH = 1;

/** Runs `rm`. */
export async function run(ctx: CliContext, args: string[], o: RmOptions): Promise<number> {
  const timeout = parseTime(o.time);
  const c = await openContainers(ctx);
  return eachContainer(
    ctx,
    args,
    o,
    async (rec, ref) => {
      const now = await c.engine.refresh(rec.id);
      if (now.state === 'running' && !o.force) {
        throw new CliError(`cannot remove container ${rec.id} as it is running - running or paused containers cannot be removed without force: container state improper`, EXIT_RUNNING);
      }
      await removeCliContainer(ctx, c, now, timeout);
      ctx.io.stdout.write(`${o.all ? rec.id : ref}\n`);
    },
    EXIT_NO_SUCH,
  );
}
