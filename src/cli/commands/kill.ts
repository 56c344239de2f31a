/**
 * `peapod kill [-s SIGNAL] CONTAINER...` (or `--all`): sends the signal
 * (default KILL; a name with or without SIG, or a number) to each running
 * container's init process and prints it as named.
 */
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { eachContainer } from '../containers/targets';
import { parseSignal } from '../signal';

/** Flags of `kill`. */
export interface KillOptions {
  all?: boolean;
  signal?: string;
}

/** Runs `kill`. */
export async function run(ctx: CliContext, args: string[], o: KillOptions): Promise<number> {
  const signal = parseSignal(o.signal ?? 'KILL');
  const c = await openContainers(ctx);
  return eachContainer(ctx, args, o, async (rec, ref) => {
    await c.engine.signal(rec.id, signal);
    ctx.io.stdout.write(`${ref}\n`);
  });
}
