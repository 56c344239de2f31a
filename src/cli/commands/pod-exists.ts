/** `peapod pod exists POD`: exit 0 when the pod exists, 1 when not (Podman's), nothing printed. */
import type { CliContext } from '../context';
import { findPod, listPods } from '../pods';

/** Runs `pod exists`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  return findPod(listPods(ctx.podsView()), args[0]) ? 0 : 1;
}
