/**
 * `peapod start [-a] [-i] CONTAINER...`: starts created containers and runs
 * exited ones again (same writable layer, log appended). With `--attach`
 * (one container) it stays attached as `run` does and exits with the
 * container's exit code; without, it prints each name as given.
 */
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE, formatError } from '../errors';
import { openContainers, startCliContainer } from '../containers/domain';
import { parseDetachKeys } from '../containers/flags';
import { mustFindContainer } from '../containers/lookup';
import { isAutoremove } from '../containers/metadata';
import { runAttached, startFailure } from './run';

/** Flags of `start`. */
export interface StartOptions {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

/** Runs `start`. */
export async function run(ctx: CliContext, args: string[], o: StartOptions): Promise<number> {
  const detachKeys = parseDetachKeys(o.detachKeys);
  if ((o.attach || o.interactive) && args.length > 1) throw new CliError('you cannot start and attach multiple containers at once', EXIT_ENGINE);
  const c = await openContainers(ctx);
  if (o.attach || o.interactive) {
    const rec = mustFindContainer(ctx.containerStore(), args[0]);
    return runAttached(ctx, c, rec, { stdin: Boolean(o.interactive), detachKeys, autoremove: isAutoremove(rec) });
  }
  let failed = false;
  for (const ref of args) {
    try {
      const rec = mustFindContainer(ctx.containerStore(), ref);
      try {
        await startCliContainer(ctx, c, rec, false);
      } catch (err) {
        throw startFailure(err);
      }
      ctx.io.stdout.write(`${ref}\n`);
    } catch (err) {
      if (args.length === 1) throw err;
      failed = true;
      ctx.io.stderr.write(formatError(err, false));
    }
  }
  return failed ? EXIT_ENGINE : 0;
}
