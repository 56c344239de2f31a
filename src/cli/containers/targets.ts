/**
 * The containers a multi-container command acts on: the ones named (by
 * name, ID or prefix), or with `--all` every CLI container, each handled on
 * its own so one failure does not stop the others (Podman prints an error
 * per container and exits non-zero).
 */
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE, exitCodeOf, formatError } from '../errors';
import { mustFindContainer } from './lookup';

/**
 * Runs `fn` on each target; prints `Error: …` for a failure and goes on.
 * @param notFoundCode exit code of a missing container (Podman: 125, rm: 1)
 * @returns the exit code: 0, or the last failure's code.
 * @throws CliError when neither names nor --all were given, or both.
 */
export async function eachContainer(
  ctx: CliContext,
  refs: string[],
  o: { all?: boolean; ignore?: boolean },
  fn: (rec: ContainerRecord, ref: string) => Promise<void>,
  notFoundCode = EXIT_ENGINE,
): Promise<number> {
  if (o.all && refs.length) throw new CliError('--all and container names cannot be given together', EXIT_ENGINE);
  if (!o.all && refs.length === 0) throw new CliError('you must provide at least one name or ID', EXIT_ENGINE);
  const store = ctx.containerStore();
  const targets: { ref: string; rec?: ContainerRecord; err?: unknown }[] = o.all
    ? store.list().map((r) => ({ ref: r.id, rec: r }))
    : refs.map((ref) => {
        try {
          return { ref, rec: mustFindContainer(store, ref, notFoundCode) };
        } catch (err) {
          return { ref, err };
        }
      });
  let code = 0;
  for (const t of targets) {
    try {
      if (t.err) {
        if (o.ignore && exitCodeOf(t.err) === notFoundCode && /no such container/.test((t.err as Error).message)) continue;
        throw t.err;
      }
      await fn(t.rec!, t.ref);
    } catch (err) {
      code = exitCodeOf(err);
      ctx.io.stderr.write(formatError(err, false));
    }
  }
  return code;
}
