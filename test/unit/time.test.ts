import { expect } from 'chai';
import { MAX_TIMER_DELAY_MS, setLongTimeout, TimerFunctions } from '../../src/common/time';

/** Timers that only record what was asked of them; `fire` runs the oldest pending one. */
function fakeTimers(): TimerFunctions & { delays: number[]; fire(): void; pending(): number } {
  const queue: { fn: () => void; id: number }[] = [];
  const delays: number[] = [];
  let next = 1;
  return {
    delays,
    setTimeout(fn: () => void, ms: number) {
      delays.push(ms);
      const t = { fn, id: next++ };
      queue.push(t);
      return t.id as unknown as NodeJS.Timeout;
    },
    clearTimeout(id: NodeJS.Timeout | undefined) {
      const i = queue.findIndex((t) => t.id === (id as unknown as number));
      if (i >= 0) queue.splice(i, 1);
    },
    fire() {
      queue.shift()?.fn();
    },
    pending: () => queue.length,
  };
}

describe('long timers (delays beyond 2^31 ms)', () => {
  it('chains timers of at most 2^31-1 ms for a 30-day delay and fires once, at the end', () => {
    const timers = fakeTimers();
    let now = 0;
    let fired = 0;
    const days30 = 30 * 24 * 3600 * 1000;
    setLongTimeout(() => fired++, days30, { timers, now: () => now });
    expect(timers.delays).to.deep.equal([MAX_TIMER_DELAY_MS]);
    now += MAX_TIMER_DELAY_MS;
    timers.fire();
    expect(fired).to.equal(0);
    expect(timers.delays).to.deep.equal([MAX_TIMER_DELAY_MS, days30 - MAX_TIMER_DELAY_MS]);
    now = days30;
    timers.fire();
    expect(fired).to.equal(1);
    expect(timers.pending()).to.equal(0);
  });

  it('schedules short delays as they are, never fires a cleared timer, and never schedules an endless one', () => {
    const timers = fakeTimers();
    let fired = 0;
    setLongTimeout(() => fired++, 250, { timers, now: () => 0 });
    expect(timers.delays).to.deep.equal([250]);
    timers.fire();
    expect(fired).to.equal(1);

    const t = setLongTimeout(() => fired++, 2 ** 40, { timers, now: () => 0 });
    t.clear();
    expect(timers.pending()).to.equal(0);

    setLongTimeout(() => fired++, Infinity, { timers, now: () => 0 });
    expect(timers.pending()).to.equal(0);
    expect(fired).to.equal(1);
  });

  it('fires a real short timer', async () => {
    await new Promise<void>((resolve) => setLongTimeout(resolve, 5));
  });
});
