/**
 * `peapod rmi IMAGE...` / `image rm`: removes images by ID, ID prefix, name
 * or digest, as `podman rmi`: a name of an image that has other names only
 * loses that name (Untagged); otherwise the image goes with all its names
 * (Untagged…, Deleted). Exit codes (Podman's): 0 all removed; 1 an image was
 * not found and nothing else failed; 2 an image is in use by a container;
 * 125 any other failure.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';

/** Flags of `rmi`. */
export interface RmiOptions {
  all?: boolean;
  force?: boolean;
  ignore?: boolean;
}

/** Runs `rmi`; errors per image are printed and folded into the exit code. */
export async function run(ctx: CliContext, args: string[], o: RmiOptions): Promise<number> {
  const { removeResolvedImage } = require('../../runtime-service/image-removal') as typeof import('../../runtime-service/image-removal');
  const { InUseError } = require('../../common/errors') as typeof import('../../common/errors');
  const { tagNamedBy } = require('../../image-service/image-names') as typeof import('../../image-service/image-names');
  if (o.all && args.length) throw new CliError('when using the --all flag, no images can be given');
  if (!o.all && args.length === 0) throw new CliError('image name or ID must be specified');
  const { store } = ctx.images;
  const targets = o.all ? store.list().map((i) => i.id) : args;
  let notFound = false;
  let inUse = false;
  let other = false;
  for (const ref of targets) {
    const img = store.resolve(ref);
    if (!img) {
      if (o.ignore) continue;
      notFound = true;
      ctx.io.stderr.write(`Error: ${ref}: image not known\n`);
      continue;
    }
    const tag = o.all ? undefined : tagNamedBy(img, ref);
    if (tag && img.repoTags.length > 1) {
      store.removeTag(tag);
      ctx.io.stdout.write(`Untagged: ${tag}\n`);
      continue;
    }
    try {
      // The image-in-use rule of the domain: a container of either front end keeps its image.
      const removed = removeResolvedImage({ images: store, containers: ctx.imageUsers() }, img, ref);
      for (const t of img.repoTags) ctx.io.stdout.write(`Untagged: ${t}\n`);
      if (removed) ctx.io.stdout.write(`Deleted: ${img.id.replace(/^sha256:/, '')}\n`);
    } catch (err) {
      if (err instanceof InUseError) inUse = true;
      else other = true;
      ctx.io.stderr.write(`Error: ${(err as Error).message}\n`);
    }
  }
  return other ? 125 : inUse ? 2 : notFound ? 1 : 0;
}
