/**
 * `peapod wait CONTAINER...`: waits for each container to exit (woken by
 * conmon's exit file) and prints its exit code.
 */
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { openEngine } from '../containers/domain';
import { mustFindContainer } from '../containers/lookup';

/** Runs `wait`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const engine = openEngine(ctx);
  const recs = args.map((ref) => mustFindContainer(ctx.containerStore(), ref));
  for (const rec of recs) {
    const done = await engine.wait(rec.id);
    if (!done) throw new CliError(`container ${rec.id} was removed while waiting`, EXIT_ENGINE);
    ctx.io.stdout.write(`${done.exitCode}\n`);
  }
  return 0;
}
