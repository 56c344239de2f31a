/**
 * `peapod container cleanup CONTAINER...`: what conmon runs when a CLI
 * container exits (see containers/exit-command.ts): records the exit from
 * conmon's exit file and removes a container run with `--rm`, with its own
 * sandbox. Prints each container's ID, as Podman's. A container already gone
 * is not an error (an attached CLI may have removed it first).
 */
import type { CliContext } from '../context';
import { cleanupCliContainer, openContainers } from '../containers/domain';
import { findContainer } from '../containers/lookup';

/** Runs `container cleanup`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const c = await openContainers(ctx, { recover: false });
  for (const ref of args) {
    const rec = findContainer(ctx.containerStore(), ref);
    if (!rec) continue;
    await cleanupCliContainer(ctx, c, rec.id);
    ctx.io.stdout.write(`${rec.id}\n`);
  }
  return 0;
}
