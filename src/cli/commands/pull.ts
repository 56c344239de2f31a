/**
 * `peapod pull IMAGE...`: pulls each image into the store (shared with
 * peapod-cri) with the credentials of the auth file (or `--creds`), shows
 * progress on stderr (bars on a terminal, plain lines otherwise, nothing with
 * -q) and prints each image ID on stdout.
 */
import type { CliContext } from '../context';
import { credentialsFor } from '../credentials';
import { CliError } from '../errors';
import { PullProgressView } from '../pull-progress';

/** Flags of `pull`. */
export interface PullOptions {
  quiet?: boolean;
  authfile?: string;
  creds?: string;
}

/** Runs `pull`. @throws CliError (125) with the puller's message when a pull fails. */
export async function run(ctx: CliContext, args: string[], o: PullOptions): Promise<number> {
  const { parseReference, formatReference, repositoryName } = require('../../image-service/reference') as typeof import('../../image-service/reference');
  const puller = ctx.images.puller();
  for (const ref of args) {
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const credentials = credentialsFor(repositoryName(parsed), o);
    const view = o.quiet ? undefined : new PullProgressView(ctx.io.stderr);
    view?.begin(parsed.shortName ? ref : formatReference(parsed));
    try {
      const started = Date.now();
      const img = await puller.pull(ref, { credentials, onProgress: view?.onEvent });
      view?.finish(img.id);
      ctx.log.debug({ image: ref, id: img.id, ms: Date.now() - started }, 'image pulled');
      ctx.io.stdout.write(img.id.replace(/^sha256:/, '') + '\n');
    } catch (err) {
      view?.abort();
      const msg = (err as Error).message;
      throw new CliError(msg.startsWith('pulling ') ? msg : `pulling ${ref}: ${msg}`);
    }
  }
  return 0;
}
