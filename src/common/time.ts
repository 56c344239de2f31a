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

/** Resolves after `ms` milliseconds (any length: see setLongTimeout). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setLongTimeout(resolve, ms));
}

/**
 * The longest delay Node's timers take, in ms: a signed 32-bit integer. A
 * longer one (or a fractional overflow) fires after 1 ms, with only a
 * TimeoutOverflowWarning, so a 30-day stop grace period would SIGKILL at once.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The timer functions setLongTimeout uses (tests pass fakes). */
export interface TimerFunctions {
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
  clearTimeout(timer: NodeJS.Timeout | undefined): void;
}

/** A timer made by setLongTimeout. */
export interface LongTimer {
  /** Cancels it; a timer already fired or cleared is left alone. */
  clear(): void;
}

/**
 * Calls `fn` once after `ms` milliseconds, however long that is: delays past
 * MAX_TIMER_DELAY_MS are waited for as a chain of timers of at most that
 * length, each measured against the monotonic clock, so the call comes at the
 * end and not after 1 ms. Use it for every delay a client or a configuration
 * chooses (stop grace periods, exec timeouts).
 *
 * @param ms the delay in ms; 0 or less (or NaN) fires on the next turn of the
 *   event loop; Infinity, or anything at or beyond 2^53, never fires.
 * @param options.unref do not keep the process alive for it;
 *   `timers`/`now` replace the global timers and clock (tests).
 * @returns a handle to cancel it.
 */
export function setLongTimeout(
  fn: () => void,
  ms: number,
  options: { unref?: boolean; timers?: TimerFunctions; now?: () => number } = {},
): LongTimer {
  const timers: TimerFunctions = options.timers ?? { setTimeout: (f, d) => setTimeout(f, d), clearTimeout: (t) => clearTimeout(t) };
  const now = options.now ?? (() => performance.now());
  let current: NodeJS.Timeout | undefined;
  let done = false;
  const handle: LongTimer = {
    clear(): void {
      done = true;
      timers.clearTimeout(current);
      current = undefined;
    },
  };
  if (ms >= Number.MAX_SAFE_INTEGER) return handle; // "never"
  const schedule = (f: () => void, delay: number): void => {
    current = timers.setTimeout(f, delay);
    if (options.unref) current.unref?.();
  };
  const fire = (): void => {
    if (done) return;
    done = true;
    current = undefined;
    fn();
  };
  const delay = Math.max(0, Number.isNaN(ms) ? 0 : ms);
  if (delay <= MAX_TIMER_DELAY_MS) {
    schedule(fire, delay);
    return handle;
  }
  const end = now() + delay;
  const arm = (): void => {
    if (done) return;
    const left = end - now();
    if (left <= MAX_TIMER_DELAY_MS) schedule(fire, Math.max(0, left));
    else schedule(arm, MAX_TIMER_DELAY_MS);
  };
  arm();
  return handle;
}
