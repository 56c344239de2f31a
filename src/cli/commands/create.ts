/**
 * `peapod create [flags] IMAGE [COMMAND [ARG...]]`: makes a container as
 * `run` does (its own sandbox, or a pod's with --pod) without starting it,
 * and prints its ID. `start` runs it.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { createCliContainer, openContainers } from '../containers/domain';
import type { CreateFlags } from '../containers/flags';
import { createRequest } from '../containers/request';
import { startFailure } from './run';

/** Runs `create`. */
export async function run(ctx: CliContext, args: string[], o: CreateFlags): Promise<number> {
  const request = await createRequest(ctx, args, o, false);
  const c = await openContainers(ctx);
  try {
    const rec = await createCliContainer(ctx, c, request);
    ctx.io.stdout.write(`${rec.id}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw startFailure(err);
  }
}
