/**
 * Keeps V8's young generation at its initial size (two semi-spaces of 1 MiB)
 * for the life of peapod-cri. Imported for this side effect first thing in
 * main.ts, before any other module loads: loading the server's modules alone
 * grew the young generation to 16 MiB (two 8 MiB semi-spaces), and a burst
 * of pods grew it again after V8 had shrunk it. Most of those pages stay
 * resident, so they were the largest part of the server's RSS beyond Node's
 * own (measured with process.memoryUsage and v8.getHeapSpaceStatistics:
 * heapTotal 32 MiB for 13 MiB used at start; 80 MiB RSS at start before, 69 after).
 *
 * A server answering small RPCs keeps little alive from one scavenge to the
 * next, so a small young generation costs more frequent, cheaper scavenges
 * (no change measured in server CPU per ExecSync). The flag is read by V8
 * each time the young generation would grow, so it takes effect when set at
 * run time, where `--max-semi-space-size` would have to be on node's command
 * line; it is process-wide, so the layer worker threads get it too.
 */
import * as v8 from 'node:v8';

/** The V8 flag set here (semi-space growth factor 1: never grow). */
export const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

v8.setFlagsFromString(YOUNG_GENERATION_FLAG);
