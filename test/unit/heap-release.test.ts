import { expect } from 'chai';
import { releaseHeapMemory } from '../../src/common/host/heap-release';

describe('heap release after a burst (common/host/heap-release.ts)', () => {
  it('frees dead young ArrayBuffers without waiting for V8 to collect, and exposes no global gc', async () => {
    let burst: Buffer[] | undefined = Array.from({ length: 16 }, () => Buffer.allocUnsafeSlow(1 << 20).fill(7));
    const held = process.memoryUsage().arrayBuffers;
    expect(burst.length).to.equal(16);
    burst = undefined;
    const released = await releaseHeapMemory();
    expect(released).to.be.a('boolean');
    expect(held - process.memoryUsage().arrayBuffers).to.be.at.least(16 << 20);
    expect((globalThis as { gc?: unknown }).gc).to.equal(undefined);
  });
});
