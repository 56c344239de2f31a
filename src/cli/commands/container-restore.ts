/**
 * `peapod container restore -i FILE`: restores a container from a
 * checkpoint archive as a new container. The archive is checked (a
 * container checkpoint: config.dump and spec.dump) and CRIU must be able to
 * run; recreating the processes from the CRIU images is not built yet
 * (src/runtime-service/checkpoint/service.ts), so the command ends with one
 * `Error:` line saying which of these stopped it (exit 125).
 */
import * as path from 'node:path';
import { checkpointsOf } from '../../runtime-service/checkpoint/service';
import type { CliContext } from '../context';
import { openContainers } from '../containers/domain';
import { CliError } from '../errors';

/** Flags of `container restore`. */
export interface RestoreOptions {
  import?: string;
}

/** Runs `container restore`. */
export async function run(ctx: CliContext, _args: string[], o: RestoreOptions): Promise<number> {
  if (!o.import) throw new CliError('--import is required: peapod keeps no checkpoint of its own\nSee \'peapod container restore --help\'');
  const c = await openContainers(ctx);
  const checkpoints = checkpointsOf(c.peapod);
  return checkpoints.restore('container', path.resolve(o.import), 'import');
}
