/**
 * `peapod images [IMAGE]` / `peapod image ls`: lists stored images, one row
 * per name (Podman's columns: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE).
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { compileImageFilters } from '../image-filter';
import { createdMs, IMAGE_HEADERS, imageJson, ImageRow, imageRows } from '../image-view';
import { renderListing } from '../output/write';

/** Flags of `images`. */
export interface ImagesOptions {
  digests?: boolean;
  filter?: string[];
  format?: string;
  noTrunc?: boolean;
  noheading?: boolean;
  quiet?: boolean;
  sort?: string;
}

const SORTS = ['created', 'id', 'repository', 'size', 'tag'];

/** Runs `images`; writes the listing to stdout. @throws CliError (125) for a bad filter, sort or format. */
export async function run(ctx: CliContext, args: string[], o: ImagesOptions): Promise<number> {
  const sort = o.sort ?? 'created';
  if (!SORTS.includes(sort)) throw new CliError(`--sort: "${sort}" is not one of ${SORTS.join(', ')}`);
  const { store, containersUsing } = ctx.images;
  const filters = [...(o.filter ?? [])];
  if (args[0]) filters.push(`reference=${args[0]}`);
  const keep = compileImageFilters(filters, store);
  const images = store.list().filter(keep);
  images.sort((a, b) => createdMs(b) - createdMs(a) || b.created - a.created);
  if (o.quiet) {
    const ids = [...new Set(images.map((i) => (o.noTrunc ? i.id : i.id.slice(7, 19))))];
    ctx.io.stdout.write(ids.map((i) => i + '\n').join(''));
    return 0;
  }
  const now = Date.now();
  let rows: ImageRow[] = images.flatMap((img) => imageRows(img, Boolean(o.noTrunc), containersUsing(img.id).length, now));
  if (sort !== 'created') {
    const key = (r: ImageRow): string | number => (sort === 'id' ? r.Id : sort === 'repository' ? r.Repository : sort === 'tag' ? r.Tag : -r.VirtualSize);
    rows = rows.slice().sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }
  const cols = o.digests ? '{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.Created}}\t{{.Size}}' : '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}';
  ctx.io.stdout.write(
    renderListing(o.format, {
      rows,
      json: images.map((img) => imageJson(img, containersUsing(img.id).length)),
      headers: IMAGE_HEADERS,
      defaultColumns: cols,
      noHeading: o.noheading,
    }),
  );
  return 0;
}
