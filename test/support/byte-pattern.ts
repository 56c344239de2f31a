/**
 * A byte stream whose every position is known, for tests that push many
 * MiB through a stream and check that each byte arrives, once, in order:
 * the stream is the sequence of 32-bit big-endian word indexes 0, 1, 2, ...
 */
import { Readable } from 'node:stream';

/** The pattern's bytes from `offset` (any byte offset), `length` bytes. */
export function patternBytes(offset: number, length: number): Buffer {
  const start = Math.floor(offset / 4);
  const words = Buffer.alloc((Math.ceil((offset + length) / 4) - start) * 4);
  for (let i = 0; i < words.length / 4; i++) words.writeUInt32BE((start + i) >>> 0, 4 * i);
  const skip = offset - start * 4;
  return words.subarray(skip, skip + length);
}

/** Checks bytes received at stream offset `offset` against the pattern; returns the offset after them. @throws Error at the first wrong byte. */
export function checkPattern(offset: number, data: Buffer): number {
  const expected = patternBytes(offset, data.length);
  if (!expected.equals(data)) {
    let i = 0;
    while (expected[i] === data[i]) i++;
    throw new Error(`byte ${offset + i} is ${data[i]}, expected ${expected[i]}`);
  }
  return offset + data.length;
}

/**
 * A producer of `total` pattern bytes in `chunk`-byte pieces that makes each
 * piece only when the consumer asks (a Readable: it honours backpressure).
 * `produced` counts the bytes made so far.
 */
export class PatternSource extends Readable {
  produced = 0;

  constructor(
    private readonly total: number,
    private readonly chunk = 64 * 1024,
  ) {
    super();
  }

  override _read(): void {
    if (this.produced >= this.total) {
      this.push(null);
      return;
    }
    const n = Math.min(this.chunk, this.total - this.produced);
    const piece = patternBytes(this.produced, n);
    this.produced += n;
    this.push(piece);
  }
}

/** Mebibytes, for sizes in tests. */
export const MiB = 1024 * 1024;
