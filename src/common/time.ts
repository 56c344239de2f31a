/** Wall clock at load minus the monotonic clock: the epoch in hrtime's terms. */
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/**
 * Nanoseconds since the epoch, with nanosecond resolution and never going
 * backwards within a process (the monotonic clock anchored to the wall
 * clock once, at load). CRI timestamps are int64 ns, beyond 2^53: keep the
 * bigint, or its decimal string.
 */
export function nowNs(): bigint {
  return EPOCH_OFFSET_NS + process.hrtime.bigint();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
