/**
 * Gives a burst's freed memory back to the kernel once the burst is over
 * (a pull: see image-service/store/layer-workers.ts): a scavenge of V8's
 * young generation, then, once V8 has swept what it found dead, glibc's
 * malloc_trim (host-addon.ts).
 *
 * Why the scavenge: an idle server allocates next to nothing, so V8 may not
 * collect again for minutes, and until it does the garbage of the burst
 * (for a pull, the socket reads of 64 KiB each: tens of MiB) stays
 * allocated, and no trim can return it. A scavenge costs about a
 * millisecond for a server's young generation (1 MiB, young-generation.ts);
 * a full collection is left to V8. The `gc` function is V8's own, taken
 * from a context made after `--expose-gc` is set (the flag applies to
 * contexts made after it), so the server's global scope gets no `gc`.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { trimMallocHeap } from './host-addon';

/** Milliseconds between the scavenge and the trim: V8 frees dead ArrayBuffers' memory on a background thread after a collection. */
const SWEEP_MS = 200;

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gc: GcFunction | undefined;

function collector(): GcFunction {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as GcFunction;
  }
  return gc;
}

/**
 * Scavenges the young generation now (synchronously; about a millisecond
 * or less when little is alive). A thread that receives a download in
 * 64 KiB socket reads and allocates little else calls it every few MiB: the
 * reads' memory is external to V8's heap, so without a scavenge it piles
 * up until V8 runs a full mark-compact for it (measured in a layer worker:
 * one every ~64 MiB, 36 in a 200 MB pull's threads).
 */
export function scavengeYoungGeneration(): void {
  collector()({ type: 'minor' });
}

/**
 * Scavenges the young generation now, then trims the malloc heaps
 * SWEEP_MS later (on libuv's thread pool).
 * @returns once the trim is done; whether it released memory (false without the addon).
 */
export async function releaseHeapMemory(): Promise<boolean> {
  collector()({ type: 'minor' });
  await new Promise((r) => setTimeout(r, SWEEP_MS).unref());
  return trimMallocHeap();
}
