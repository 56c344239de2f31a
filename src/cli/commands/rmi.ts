/**
 * `peapod rmi IMAGE...` / `image rm`: removes images by ID, ID prefix, name
 * or digest, as `podman rmi`: a name of an image that has other names only
 * loses that name (Untagged); otherwise the image goes with all its names
 * (Untagged…, Deleted). With `-f` the CLI's containers using an image are
 * removed first (never peapod-cri's, which still keep it). Exit codes
 * (Podman's): 0 all removed; 1 an image was
 * not found and nothing else failed; 2 an image is in use by a container;
 * 125 any other failure.
 */
import type { CliContext } from '../context';
import { CliError, formatError } from '../errors';
import { shownInput } from '../../common/bounded-text';

/** Flags of `rmi`. */
export interface RmiOptions {
  all?: boolean;
  force?: boolean;
  ignore?: boolean;
}

/** Removes the CLI's containers (any state, stopped at once) made from image `imageId`, printing nothing. */
async function removeCliContainersOf(ctx: CliContext, imageId: string): Promise<void> {
  const mine = ctx.containerStore().list().filter((r) => r.imageId === imageId);
  if (mine.length === 0) return;
  const { openContainers, removeCliContainer } = require('../containers/domain') as typeof import('../containers/domain');
  const c = await openContainers(ctx, { recover: false });
  for (const rec of mine) await removeCliContainer(ctx, c, rec, 0);
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
      ctx.io.stderr.write(formatError(`${shownInput(ref)}: image not known`, false));
      continue;
    }
    const tag = o.all ? undefined : tagNamedBy(img, ref);
    if (tag && img.repoTags.length > 1) {
      store.removeTag(tag);
      ctx.io.stdout.write(`Untagged: ${tag}\n`);
      continue;
    }
    try {
      // -f: the CLI's own containers of the image go first (as Podman's rmi -f); peapod-cri's still keep it.
      if (o.force) await removeCliContainersOf(ctx, img.id);
      // The image-in-use rule of the domain: a container of either front end keeps its image.
      const removed = await removeResolvedImage({ images: store, containers: ctx.imageUsers() }, img, ref);
      for (const t of img.repoTags) ctx.io.stdout.write(`Untagged: ${t}\n`);
      if (removed) ctx.io.stdout.write(`Deleted: ${img.id.replace(/^sha256:/, '')}\n`);
    } catch (err) {
      if (err instanceof InUseError) inUse = true;
      else other = true;
      ctx.io.stderr.write(formatError(err, false));
    }
  }
  return other ? 125 : inUse ? 2 : notFound ? 1 : 0;
}
