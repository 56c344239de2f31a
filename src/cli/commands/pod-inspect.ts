/**
 * `peapod pod inspect POD...`: Podman's pod inspect object (InspectPodData,
 * indented by 5 as Podman 4.3 prints it), one object for one pod, an array
 * for several; `--format` a Go template per pod. An unknown pod: the others
 * are printed, then `Error: inspecting object: no such pod NAME` (125).
 */
import type { CliContext } from '../context';
import { shownInput } from '../../common/bounded-text';
import { CliError } from '../errors';
import { renderObject } from '../output/write';
import { podInfo, podInspect } from '../pod-view';
import { findPod, listPods, podContainers } from '../pods';

/** Flags of `pod inspect`. */
export interface PodInspectOptions {
  format?: string;
  latest?: boolean;
}

/** Runs `pod inspect`. */
export async function run(ctx: CliContext, args: string[], o: PodInspectOptions): Promise<number> {
  if (!o.latest && args.length === 0) throw new CliError('you must provide at least one pod name or ID (or --latest)');
  const peapod = ctx.podsView();
  const pods = listPods(peapod);
  const names = o.latest ? [] : args;
  const found = o.latest ? pods.slice(-1) : [];
  let missing: string | undefined;
  for (const n of names) {
    const p = findPod(pods, n);
    if (!p) {
      missing = n;
      break;
    }
    found.push(p);
  }
  const objects = [];
  for (const p of found) objects.push(podInspect(podInfo(peapod.sandboxes.refresh(p), await podContainers(peapod, p.id))));
  if (o.format !== undefined && o.format.trim() !== 'json') {
    for (const obj of objects) ctx.io.stdout.write(renderObject(o.format, obj));
  } else if (objects.length) {
    ctx.io.stdout.write(JSON.stringify(objects.length === 1 ? objects[0] : objects, null, 5) + '\n');
  }
  if (missing !== undefined) throw new CliError(`inspecting object: no such pod ${shownInput(missing)}`);
  if (o.latest && found.length === 0) throw new CliError('no pods to inspect');
  return 0;
}
