/** `peapod tag IMAGE NAME...`: adds names to a stored image (a name without a registry goes under localhost/). */
import type { CliContext } from '../context';
import { shownInput } from '../../common/bounded-text';
import { CliError } from '../errors';

/** Runs `tag`. @throws CliError (125) for an unknown image or a bad name. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const { normalizeNewName } = require('../../image-service/image-names') as typeof import('../../image-service/image-names');
  const [ref, ...names] = args;
  const { store } = ctx.images;
  const img = store.resolve(ref);
  if (!img) throw new CliError(`${shownInput(ref)}: image not known`);
  const normalized = names.map((n) => {
    try {
      return normalizeNewName(n);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  });
  for (const n of normalized) if (!store.addTag(img.id, n)) throw new CliError(`${shownInput(ref)}: image not known`);
  return 0;
}
