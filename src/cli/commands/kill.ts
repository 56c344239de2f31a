/**
 * `peapod kill [-s SIGNAL] CONTAINER...` (or `--all`): sends the signal
 * (default KILL; a name with or without SIG, or a number) to each running
 * container's init process and prints it as named.
 */
import * as os from 'node:os';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { openContainers } from '../containers/domain';
import { eachContainer } from '../containers/targets';

/** Flags of `kill`. */
export interface KillOptions {
  all?: boolean;
  signal?: string;
}

/**
 * A signal as runc takes it: `SIGHUP` for `hup`, `HUP`, `SIGHUP` or `1`.
 * @throws CliError (125) for an unknown signal.
 */
export function parseSignal(text: string): string {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= 64) return String(n);
  } else {
    const name = t.startsWith('SIG') ? t : `SIG${t}`;
    if (name in os.constants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) return name;
  }
  throw new CliError(`invalid signal: ${text}`, EXIT_ENGINE);
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
