/**
 * `peapod pod ps` / `pod ls`: lists the CLI's pods, newest first, with
 * Podman's columns (POD ID NAME STATUS CREATED INFRA ID # OF CONTAINERS;
 * `--ctr-ids`, `--ctr-names`, `--ctr-status` replace the count by the
 * containers' IDs, names, states; `--ns` adds CGROUP and NAMESPACES),
 * `--filter`, `--format json|table|{{.Field}}`, `-q` (full IDs, as Podman).
 * Read-only: no recovery runs, containers' exits are read from their exit files.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { renderListing } from '../output/write';
import { compilePodFilters } from '../pod-filter';
import { POD_HEADERS, podInfo, PodInfo, podJson, podRow } from '../pod-view';
import { listPods, podContainers } from '../pods';

/** Flags of `pod ps`. */
export interface PodPsOptions {
  ctrIds?: boolean;
  ctrNames?: boolean;
  ctrStatus?: boolean;
  filter?: string[];
  format?: string;
  latest?: boolean;
  noTrunc?: boolean;
  noheading?: boolean;
  ns?: boolean;
  quiet?: boolean;
  sort?: string;
}

/** The default table's columns, as Podman 4.3 picks them. */
function defaultColumns(o: PodPsOptions): string {
  const cols = ['{{.ID}}', '{{.Name}}', '{{.Status}}', '{{.Created}}', '{{.InfraID}}'];
  if (o.ctrIds) cols.push('{{.ContainerIds}}');
  if (o.ctrNames) cols.push('{{.ContainerNames}}');
  if (o.ctrStatus) cols.push('{{.ContainerStatuses}}');
  if (o.ns) cols.push('{{.Cgroup}}', '{{.Namespace}}');
  if (!o.ctrIds && !o.ctrNames && !o.ctrStatus) cols.push('{{.NumberOfContainers}}');
  return cols.join('\t');
}

const SORTS: Record<string, (a: PodInfo, b: PodInfo) => number> = {
  created: (a, b) => (BigInt(b.pod.createdAt) > BigInt(a.pod.createdAt) ? 1 : BigInt(b.pod.createdAt) < BigInt(a.pod.createdAt) ? -1 : 0),
  id: (a, b) => (a.pod.id < b.pod.id ? -1 : a.pod.id > b.pod.id ? 1 : 0),
  name: (a, b) => (a.pod.metadata.name < b.pod.metadata.name ? -1 : a.pod.metadata.name > b.pod.metadata.name ? 1 : 0),
  number: (a, b) => a.containers.length - b.containers.length,
  status: (a, b) => (a.status < b.status ? -1 : a.status > b.status ? 1 : 0),
};

/** Runs `pod ps`. @throws CliError (125) for a bad filter, sort or format, or -q with --format. */
export async function run(ctx: CliContext, _args: string[], o: PodPsOptions): Promise<number> {
  if (o.quiet && o.format) throw new CliError('quiet and format cannot be used together');
  const sort = SORTS[o.sort ?? 'created'];
  if (!sort) throw new CliError(`invalid option for --sort, options are: ${Object.keys(SORTS).join(', ')}`);
  const keep = compilePodFilters(o.filter ?? []);
  const peapod = ctx.podsView();
  const all = peapod.containers.list();
  let pods: PodInfo[] = [];
  for (const pod of listPods(peapod)) pods.push(podInfo(peapod.sandboxes.refresh(pod), await podContainers(peapod, pod.id, all)));
  pods = pods.filter(keep).sort(sort);
  if (o.latest) pods = pods.length ? [pods.slice().sort(SORTS.created)[0]] : [];
  if (o.quiet) {
    ctx.io.stdout.write(pods.map((p) => `${p.pod.id}\n`).join(''));
    return 0;
  }
  const now = Date.now();
  const text = renderListing(o.format, { rows: pods.map((p) => podRow(p, Boolean(o.noTrunc), now)), json: pods.map(podJson), headers: POD_HEADERS, defaultColumns: defaultColumns(o), noHeading: o.noheading });
  // Podman indents pod ps's JSON by 2 (its inspect by 5).
  ctx.io.stdout.write(o.format?.trim() === 'json' ? JSON.stringify(pods.map(podJson), null, 2) + '\n' : text);
  return 0;
}
