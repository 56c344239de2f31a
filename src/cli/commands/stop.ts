/**
 * `peapod stop [-t SECONDS] CONTAINER...` (or `--all`): the stop signal,
 * the grace time (default the container's --stop-timeout, else 10 s), then
 * SIGKILL; prints each container as named. Stopping an exited container is
 * not an error.
 */
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { openContainers, stopCliContainer } from '../containers/domain';
import { eachContainer } from '../containers/targets';

/** Flags of `stop`. */
export interface StopOptions {
  all?: boolean;
  ignore?: boolean;
  time?: string;
}

/** `-t`/`--time` in seconds. @throws CliError for a value that is not a whole number. */
export function parseTime(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  if (!/^\d+$/.test(t)) throw new CliError(`--time "${t}": expected a number of seconds`, EXIT_ENGINE);
  return Number(t);
}

/** Runs `stop`. */
export async function run(ctx: CliContext, args: string[], o: StopOptions): Promise<number> {
  const timeout = parseTime(o.time);
  const c = await openContainers(ctx);
  return eachContainer(ctx, args, o, async (rec, ref) => {
    await stopCliContainer(ctx, c, rec, timeout);
    ctx.io.stdout.write(`${ref}\n`);
  });
}
