/**
 * `peapod restart [-t SECONDS] CONTAINER...` (or `--all`): stops each
 * container (as `stop`) and starts it again, then prints its ID.
 */
import type { CliContext } from '../context';
import { openContainers, startCliContainer, stopCliContainer } from '../containers/domain';
import { parseTime } from './stop';
import { startFailure } from './run';
import { eachContainer } from '../containers/targets';

/** Flags of `restart`. */
export interface RestartOptions {
  all?: boolean;
  time?: string;
}

/** Runs `restart`. */
export async function run(ctx: CliContext, args: string[], o: RestartOptions): Promise<number> {
  const timeout = parseTime(o.time);
  const c = await openContainers(ctx);
  return eachContainer(ctx, args, o, async (rec) => {
    await stopCliContainer(ctx, c, rec, timeout);
    try {
      await startCliContainer(ctx, c, c.engine.get(rec.id), false);
    } catch (err) {
      throw startFailure(err);
    }
    ctx.io.stdout.write(`${rec.id}\n`);
  });
}
