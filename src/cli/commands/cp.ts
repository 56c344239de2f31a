/**
 * `peapod cp SRC DEST`: copies between a container and the host; exactly
 * one side is `CONTAINER:PATH` (see runtime-service/container/copy.ts for
 * what is safe against the container's links and how directories go).
 */
import * as path from 'node:path';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { mustFindContainer } from '../containers/lookup';

/** `CONTAINER:PATH` split, or undefined for a host path (absolute or relative: `./a:b` is a host path). */
export function containerPath(arg: string): { container: string; path: string } | undefined {
  if (arg.startsWith('/') || arg.startsWith('.')) return undefined;
  const i = arg.indexOf(':');
  if (i <= 0) return undefined;
  return { container: arg.slice(0, i), path: arg.slice(i + 1) || '/' };
}

/** Runs `cp`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const [src, dest] = args;
  const s = containerPath(src);
  const d = containerPath(dest);
  if (s && d) throw new CliError('copying between containers is not supported', EXIT_ENGINE);
  if (!s && !d) throw new CliError('invalid arguments: one of SRC and DEST must be CONTAINER:PATH', EXIT_ENGINE);
  const store = ctx.containerStore();
  const engine = ctx.containerEngine();
  if (s) {
    const rec = mustFindContainer(store, s.container);
    await engine.copy(rec.id, 'out', s.path, path.resolve(dest));
  } else {
    const rec = mustFindContainer(store, d!.container);
    // path.resolve would drop a trailing "/." that asks for the directory's contents.
    const from = /\/\.$/.test(src) ? `${path.resolve(src)}/.` : path.resolve(src);
    await engine.copy(rec.id, 'into', from, d!.path);
  }
  return 0;
}
