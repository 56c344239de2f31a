/**
 * `peapod container checkpoint -e FILE CONTAINER`: writes a checkpoint
 * archive of a running container (CRI-O's layout, as CheckpointContainer
 * writes it: src/runtime-service/checkpoint/service.ts) and prints the
 * container as named; the container keeps running. peapod keeps no
 * checkpoint of its own, so `--export` is required. Where CRIU cannot run,
 * one `Error:` line says what `criu check` reports (exit 125).
 */
import * as path from 'node:path';
import { checkpointsOf } from '../../runtime-service/checkpoint/service';
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { mustFindContainer } from '../containers/lookup';
import { CliError } from '../errors';

/** Flags of `container checkpoint`. */
export interface CheckpointOptions {
  export?: string;
}

/** Runs `container checkpoint`. */
export async function run(ctx: CliContext, args: string[], o: CheckpointOptions): Promise<number> {
  if (!o.export) throw new CliError('--export is required: peapod keeps no checkpoint of its own\nSee \'peapod container checkpoint --help\'');
  const c = await openContainers(ctx);
  const rec = mustFindContainer(ctx.containerStore(), args[0]);
  const checkpoints = checkpointsOf(c.peapod);
  await checkpoints.checkpointContainer(rec.id, path.resolve(o.export));
  ctx.io.stdout.write(`${args[0]}\n`);
  return 0;
}
