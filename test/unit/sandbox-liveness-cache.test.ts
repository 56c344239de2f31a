import { expect } from 'chai';
import { SandboxLivenessCache } from '../../src/runtime-service/sandbox/liveness-cache';

describe('SandboxLivenessCache (lists trust a recent liveness check)', () => {
  let now = 0;
  const clock = (): number => now;
  beforeEach(() => (now = 1000));

  it('checks a record once within the bound and again after it', () => {
    const cache = new SandboxLivenessCache<object>(1000, clock);
    const rec = {};
    let checks = 0;
    const check = (): boolean => (checks++, true);
    expect(cache.alive(rec, check)).to.equal(true);
    now += 999;
    expect(cache.alive(rec, check)).to.equal(true);
    expect(checks).to.equal(1);
    now += 1;
    expect(cache.alive(rec, check)).to.equal(true);
    expect(checks).to.equal(2);
  });

  it('never caches a failed check, and checks another record object afresh', () => {
    const cache = new SandboxLivenessCache<object>(1000, clock);
    const rec = {};
    let alive = false;
    let checks = 0;
    const check = (): boolean => (checks++, alive);
    expect(cache.alive(rec, check)).to.equal(false);
    expect(cache.alive(rec, check)).to.equal(false);
    expect(checks).to.equal(2);
    alive = true;
    expect(cache.alive(rec, check)).to.equal(true);
    // The same pod re-read after a change of the state database is a new object: checked now.
    alive = false;
    expect(cache.alive({}, check)).to.equal(false);
    expect(checks).to.equal(4);
  });

  it('checks again after forget, and every time with a bound of 0', () => {
    const rec = {};
    let checks = 0;
    const check = (): boolean => (checks++, true);
    const cache = new SandboxLivenessCache<object>(1000, clock);
    cache.alive(rec, check);
    cache.forget(rec);
    cache.alive(rec, check);
    expect(checks).to.equal(2);
    const never = new SandboxLivenessCache<object>(0, clock);
    never.alive(rec, check);
    never.alive(rec, check);
    expect(checks).to.equal(4);
  });
});
