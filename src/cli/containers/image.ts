/**
 * The image a `run` or `create` uses, by Podman's `--pull` policy:
 * `missing` (default) pulls only when the store has no image by that
 * reference, `always` pulls every time, `never` only uses the store. A pull
 * shows the same progress as `peapod pull` on stderr.
 */
import type { ImageRecord } from '../../image-service/store/image-store';
import type { CliContext } from '../context';
import { credentialsFor } from '../credentials';
import { CliError, EXIT_ENGINE } from '../errors';

/** `--pull` values. */
export type PullPolicy = 'always' | 'missing' | 'never';

/**
 * The stored image for `ref`, pulled first when the policy says so.
 * @param quiet no pull progress
 * @throws CliError (125) when the image is not stored and may not be pulled, or the pull fails.
 */
export async function imageForRun(ctx: CliContext, ref: string, policy: PullPolicy, quiet = false): Promise<ImageRecord> {
  const { store } = ctx.images;
  const have = store.resolve(ref);
  if (have && policy !== 'always') return have;
  if (policy === 'never') throw new CliError(`${ref}: image not known`, EXIT_ENGINE);
  const { parseReference, formatReference, repositoryName } = require('../../image-service/reference') as typeof import('../../image-service/reference');
  const { PullProgressView } = require('../pull-progress') as typeof import('../pull-progress');
  let parsed;
  try {
    parsed = parseReference(ref);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_ENGINE);
  }
  const view = quiet ? undefined : new PullProgressView(ctx.io.stderr);
  view?.begin(parsed.shortName ? ref : formatReference(parsed));
  try {
    const img = await ctx.images.puller().pull(ref, { credentials: credentialsFor(repositoryName(parsed), {}), onProgress: view?.onEvent });
    view?.finish(img.id);
    return img;
  } catch (err) {
    view?.abort();
    const msg = (err as Error).message;
    throw new CliError(msg.startsWith('pulling ') ? msg : `pulling ${ref}: ${msg}`, EXIT_ENGINE);
  }
}
