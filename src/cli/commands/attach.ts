/**
 * `peapod attach [--no-stdin] [--detach-keys KEYS] CONTAINER`: joins a
 * running container's output (from now on), and its input (our stdin) when
 * it has a terminal or an open stdin, until it exits (the exit code is the
 * container's) or the detach keys are typed (exit 0, it runs on).
 */
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { attachContainer, logFileOf } from '../containers/attach-io';
import { cleanupCliContainer, openContainers } from '../containers/domain';
import { parseDetachKeys } from '../containers/flags';
import { logEnd } from '../containers/log-follow';
import { mustFindContainer } from '../containers/lookup';

/** Flags of `attach`. */
export interface AttachOptions {
  detachKeys?: string;
  noStdin?: boolean;
}

/** Runs `attach`. */
export async function run(ctx: CliContext, args: string[], o: AttachOptions): Promise<number> {
  const detachKeys = parseDetachKeys(o.detachKeys);
  const c = await openContainers(ctx, { recover: false });
  const rec = await c.engine.refresh(mustFindContainer(ctx.containerStore(), args[0]).id);
  if (rec.state !== 'running') throw new CliError(`you can only attach to running containers: container state improper`, EXIT_ENGINE);
  const session = attachContainer({ rec, dirs: c.dirs, io: ctx.io, stdin: !o.noStdin && (rec.tty || rec.stdin), logOffset: logEnd(logFileOf(rec)), detachKeys });
  const how = await session.done;
  if (how === 'detached') return 0;
  const res = await cleanupCliContainer(ctx, c, rec.id);
  return res?.rec.exitCode ?? 0;
}
