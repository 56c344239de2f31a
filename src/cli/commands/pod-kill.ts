/**
 * `peapod pod kill POD...`: sends `--signal` (default KILL) to the main
 * process of each running container of the pods, as `podman pod kill`;
 * prints each pod's ID. An unknown pod or signal is an error (125).
 */
import type { CliContext } from '../context';
import { killPod } from '../pod-lifecycle';
import { parseSignal } from '../signal';
import { eachTargetPod } from '../pod-verb';

/** Flags of `pod kill`. */
export interface PodKillOptions {
  all?: boolean;
  latest?: boolean;
  signal?: string;
}

/** Runs `pod kill`. */
export async function run(ctx: CliContext, args: string[], o: PodKillOptions): Promise<number> {
  const signal = parseSignal(o.signal ?? 'KILL');
  return eachTargetPod(ctx, args, o, 'kill', (c, pod) => killPod(c, pod, signal));
}
