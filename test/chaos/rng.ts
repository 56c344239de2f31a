/**
 * A small seeded pseudo-random generator (mulberry32): the chaos test draws
 * every choice from it, so a seed names one schedule of operations and kill
 * points (their timing still varies with the machine's load).
 */
export class Rng {
  private state: number;

  /** @param seed any 32-bit unsigned integer */
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** A fresh seed from the system's randomness. */
export function randomSeed(): number {
  return (Math.random() * 4294967296) >>> 0;
}
