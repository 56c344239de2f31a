/**
 * `peapod system df`: disk usage as `podman system df` prints it: one row
 * each for Images (the store's: a layer shared by several images counted
 * once; active: used by a container of either front end; reclaimable: what
 * no image in use needs), Containers (the CLI's: their writable layers;
 * active: running; reclaimable: the others') and Local Volumes (peapod has
 * none: zeros, kept for Podman's table). `-v` lists each image and
 * container; `--format json` or a Go template per row.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { humanDuration, humanSizeCompact } from '../output/units';
import { renderListing } from '../output/write';
import { formatTable } from '../output/template';
import { imagesUsage, writableLayerBytes } from '../storage-usage';
import { splitTag } from '../image-view';
import type { ContainerRecord } from '../../runtime-service/container/record';

/** Flags of `system df`. */
export interface SystemDfOptions {
  format?: string;
  verbose?: boolean;
}

/** One summary row: Podman's dfSummary (template fields and JSON). */
interface DfSummary {
  Type: string;
  Total: number;
  Active: number;
  RawSize: number;
  RawReclaimable: number;
  TotalCount: number;
  Size: string;
  Reclaimable: string;
}

function summary(type: string, total: number, active: number, size: number, reclaimable: number): DfSummary {
  const percent = size > 0 ? Math.round((reclaimable / size) * 100) : 0;
  return { Type: type, Total: total, Active: active, RawSize: size, RawReclaimable: reclaimable, TotalCount: total, Size: humanSizeCompact(size), Reclaimable: `${humanSizeCompact(reclaimable)} (${percent}%)` };
}

const HEADERS = { Type: 'TYPE', Total: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

/** Runs `system df`. @throws CliError (125) for --format with -v or a bad template. */
export async function run(ctx: CliContext, _args: string[], o: SystemDfOptions): Promise<number> {
  if (o.format !== undefined && o.verbose) throw new CliError('cannot combine --format and --verbose flags');
  const peapod = ctx.peapod();
  const { store } = ctx.images;
  const images = imagesUsage(store, (id) => peapod.containers.usingImage(id));
  const containers: ContainerRecord[] = [];
  for (const c of peapod.containers.list()) containers.push(c.state === 'exited' ? c : await peapod.containers.refresh(c.id).catch(() => c));
  const sizes = await Promise.all(containers.map(writableLayerBytes));
  const now = Date.now();
  if (o.verbose) {
    const imageRows = images.images.flatMap((u) => {
      const names = u.image.repoTags.length ? u.image.repoTags : ['<none>:<none>'];
      return names.map((n) => {
        const [repo, tag] = n === '<none>:<none>' ? ['<none>', '<none>'] : splitTag(n);
        const created = Date.parse(u.image.config.created ?? '') || u.image.created;
        return [repo, tag, u.image.id.slice(7, 19), humanDuration(now - created), humanSizeCompact(u.size), humanSizeCompact(u.sharedSize), humanSizeCompact(u.uniqueSize), String(u.containers)];
      });
    });
    const ctrRows = containers.map((c, i) => [
      c.id.slice(0, 12),
      c.imageId.slice(7, 19),
      (peapod.containers.spec(c.id)?.process?.args ?? []).join(' '),
      '0',
      humanSizeCompact(sizes[i]),
      humanDuration(now - Number(BigInt(c.createdAt) / 1_000_000n)),
      c.state,
      c.metadata.name,
    ]);
    const table = (cols: string[], rows: string[][]): string => {
      const keys = cols.map((_c, i) => `C${i}`);
      const records = rows.map((r) => Object.fromEntries(r.map((v, i) => [keys[i], v])));
      return formatTable(keys.map((k) => `{{.${k}}}`).join('\t'), records, Object.fromEntries(keys.map((k, i) => [k, cols[i]])));
    };
    ctx.io.stdout.write(
      'Images space usage:\n\n' +
        table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], imageRows) +
        '\nContainers space usage:\n\n' +
        table(['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ctrRows) +
        '\nLocal Volumes space usage:\n\n' +
        table(['VOLUME NAME', 'LINKS', 'SIZE'], []),
    );
    return 0;
  }
  let ctrSize = 0;
  let ctrReclaimable = 0;
  containers.forEach((c, i) => {
    ctrSize += sizes[i];
    if (c.state !== 'running') ctrReclaimable += sizes[i];
  });
  const rows = [
    summary('Images', images.images.length, images.images.filter((i) => i.containers > 0).length, images.total, images.reclaimable),
    summary('Containers', containers.length, containers.filter((c) => c.state === 'running').length, ctrSize, ctrReclaimable),
    summary('Local Volumes', 0, 0, 0, 0),
  ];
  ctx.io.stdout.write(renderListing(o.format, { rows, headers: HEADERS, defaultColumns: '{{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' }));
  return 0;
}
