/**
 * `peapod system prune`: removes what the CLI no longer uses, as
 * `podman system prune`: stopped pods (status Exited or Stopped) with their
 * containers, the CLI's containers that are not running (a container's own
 * sandbox goes with it), dangling images (without a name; with `-a` every
 * image no container uses). Only the CLI's own pods and containers are
 * touched, never peapod-cri's, and an image a container of either front end
 * uses is never removed. Asks first unless `-f`; prints what it removed and
 * the space reclaimed.
 */
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { humanSizeCompact } from '../output/units';
import { untilMs } from '../pod-filter';
import { isPod, podContainers, podStatus } from '../pods';
import { promptLine } from '../prompt';
import { freedByRemoving, writableLayerBytes } from '../storage-usage';
import type { ContainerRecord } from '../../runtime-service/container/record';
import { formatError } from '../errors';

/** Flags of `system prune`. */
export interface SystemPruneOptions {
  all?: boolean;
  filter?: string[];
  force?: boolean;
  volumes?: boolean;
}

/** A prune filter: what it keeps (true) or prunes (false) among labelled, dated things. */
type PruneFilter = (x: { labels: Record<string, string>; createdMs: number }) => boolean;

/**
 * `--filter label=KEY[=VALUE]`, `label!=…`, `until=TIME`: only what matches
 * every filter is pruned.
 * @throws CliError (125) for another key or a malformed one.
 */
function compilePruneFilters(values: string[], nowMs: number): PruneFilter {
  const preds: PruneFilter[] = values.map((f) => {
    const m = /^(label|until)(!?=)([\s\S]*)$/.exec(f);
    if (!m) throw new CliError(`--filter ${f}: only label=KEY[=VALUE], label!=KEY[=VALUE] and until=TIME are supported`);
    const [, key, op, v] = m;
    if (key === 'until') {
      if (op !== '=') throw new CliError(`--filter ${f}: until takes =`);
      const t = untilMs(v, nowMs);
      return (x) => x.createdMs < t;
    }
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    const want = eq < 0 ? undefined : v.slice(eq + 1);
    const has: PruneFilter = (x) => k in x.labels && (want === undefined || x.labels[k] === want);
    return op === '!=' ? (x) => !has(x) : has;
  });
  return (x) => preds.every((p) => p(x));
}

const nsMs = (ns: string): number => Number(BigInt(ns) / 1_000_000n);

/** Runs `system prune`. */
export async function run(ctx: CliContext, _args: string[], o: SystemPruneOptions): Promise<number> {
  const keep = compilePruneFilters(o.filter ?? [], Date.now());
  if (!o.force) {
    ctx.io.stderr.write(
      `WARNING! This command removes:\n\t- all stopped pods and their containers\n\t- all stopped containers\n${o.all ? '\t- all images without at least one container associated with them\n' : '\t- all dangling images\n'}\n`,
    );
    const answer = await promptLine(ctx.io, 'Are you sure you want to continue? [y/N] ');
    if (!/^y(es)?$/i.test(answer.trim())) return 0;
  }
  const { openContainers, removeCliContainer } = require('../containers/domain') as typeof import('../containers/domain');
  const c = await openContainers(ctx);
  const peapod = c.peapod;
  let reclaimed = 0;
  let failed = false;
  const report = (title: string, ids: string[]): void => {
    if (ids.length) ctx.io.stdout.write(`${title}\n${ids.map((i) => `${i}\n`).join('')}`);
  };
  const fail = (what: string, err: unknown): void => {
    failed = true;
    ctx.io.stderr.write(formatError(`${what}: ${(err as Error).message}`, false));
  };

  // Pods: the stopped ones, with their containers.
  const all = peapod.containers.list();
  const sandboxes = peapod.sandboxes.list();
  const deletedPods: string[] = [];
  const gone = new Set<string>();
  for (const pod of sandboxes.filter(isPod)) {
    const ctrs = await podContainers(peapod, pod.id, all);
    const status = podStatus(peapod.sandboxes.refresh(pod), ctrs);
    if ((status !== 'Exited' && status !== 'Stopped') || !keep({ labels: pod.labels, createdMs: nsMs(pod.createdAt) })) continue;
    try {
      for (const c of ctrs) reclaimed += await writableLayerBytes(c);
      await peapod.sandboxes.remove(pod.id);
      deletedPods.push(pod.id);
      for (const c of ctrs) gone.add(c.id);
    } catch (err) {
      fail(`removing pod ${pod.metadata.name}`, err);
    }
  }

  // Containers that are not running, of pods that stay and of their own sandboxes.
  const deletedContainers: string[] = [];
  for (const c0 of all) {
    if (gone.has(c0.id)) continue;
    const r: ContainerRecord = c0.state === 'exited' ? c0 : await peapod.containers.refresh(c0.id).catch(() => c0);
    if (r.state === 'running' || !keep({ labels: r.labels, createdMs: nsMs(r.createdAt) })) continue;
    try {
      const bytes = await writableLayerBytes(r);
      // As `peapod rm`: a container's own sandbox goes with it.
      await removeCliContainer(ctx, c, r, 0);
      reclaimed += bytes;
      deletedContainers.push(r.id);
    } catch (err) {
      fail(`removing container ${r.id.slice(0, 12)}`, err);
    }
  }

  // Images: dangling ones (-a: every one) that no container of either front end uses.
  const { store } = ctx.images;
  const unused = store.list().filter((img) => (o.all || img.repoTags.length === 0) && peapod.containers.usingImage(img.id).length === 0 && keep({ labels: img.config.config?.Labels ?? {}, createdMs: Date.parse(img.config.created ?? '') || img.created }));
  const deletedImages: string[] = [];
  const freed = freedByRemoving(store, unused);
  for (const img of unused) {
    try {
      await peapod.images.remove(img.id);
      deletedImages.push(img.id.replace(/^sha256:/, ''));
    } catch (err) {
      fail(`removing image ${img.id.slice(7, 19)}`, err);
    }
  }
  if (deletedImages.length === unused.length) reclaimed += freed;

  report('Deleted Pods', deletedPods);
  report('Deleted Containers', deletedContainers);
  report('Deleted Images', deletedImages);
  ctx.io.stdout.write(`Total reclaimed space: ${humanSizeCompact(reclaimed)}\n`);
  return failed ? 125 : 0;
}
