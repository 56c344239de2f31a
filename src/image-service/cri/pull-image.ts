import type { PullImageRequest__Output } from '../../generated/runtime/v1/PullImageRequest';
import type { PullImageResponse } from '../../generated/runtime/v1/PullImageResponse';
import { invalidArgument, withFieldPath } from '../../common/errors';
import type { ImageContext } from './context';
import { InvalidReferenceError } from '../reference';
import type { RegistryCredentials } from '../registry-client';

/**
 * CRI `PullImage`: pulls `image.image` with the request's `auth`
 * (username/password, `auth` base64, identity_token or registry_token) and
 * answers `image_ref` = the image ID (`sha256:<config digest hex>`).
 * Errors: INVALID_ARGUMENT for a missing or malformed reference; NOT_FOUND,
 * PERMISSION_DENIED, UNAVAILABLE or FAILED_PRECONDITION for registry and
 * content failures (see src/server/status.ts).
 */
export function pullImage(ctx: ImageContext) {
  return async (req: PullImageRequest__Output): Promise<PullImageResponse> => {
    const ref = req.image?.image ?? '';
    if (!ref) throw invalidArgument('image.image is required');
    const a = req.auth;
    const credentials: RegistryCredentials | undefined = a
      ? {
          username: a.username || undefined,
          password: a.password || undefined,
          auth: a.auth || undefined,
          identityToken: a.identity_token || undefined,
          registryToken: a.registry_token || undefined,
        }
      : undefined;
    // A watched pull takes the progress events, so it runs its own pull (layer downloads are still shared).
    const watch = ctx.pullObserver?.pullStarted(ref);
    try {
      const started = Date.now();
      const img = await ctx.images.puller.pull(ref, { credentials, onProgress: watch && ((e) => watch.onProgress(e)) });
      ctx.log.info({ image: ref, id: img.id, ms: Date.now() - started }, 'image pulled');
      watch?.finished();
      return { image_ref: img.id };
    } catch (err) {
      watch?.finished(err);
      throw err instanceof InvalidReferenceError ? withFieldPath(err, 'image.image') : err;
    }
  };
}
