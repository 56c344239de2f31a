/** `peapod untag IMAGE [NAME...]`: removes names from a stored image (all of them when none is given); the image stays. */
import type { CliContext } from '../context';
import { shownInput } from '../../common/bounded-text';
import { CliError } from '../errors';

/** Runs `untag`. @throws CliError (125) for an unknown image or a name it does not have (nothing is removed then). */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const { normalizeNewName, tagNamedBy } = require('../../image-service/image-names') as typeof import('../../image-service/image-names');
  const [ref, ...names] = args;
  const { store } = ctx.images;
  const img = store.resolve(ref);
  if (!img) throw new CliError(`${shownInput(ref)}: image not known`);
  const tags = names.length === 0 ? img.repoTags : names.map((n) => {
    const t = tagNamedBy(img, n);
    if (!t) {
      let shown = n;
      try {
        shown = normalizeNewName(n);
      } catch {
        // shown as given
      }
      throw new CliError(`${shown}: tag not known`);
    }
    return t;
  });
  for (const t of tags) store.removeTag(t);
  return 0;
}
