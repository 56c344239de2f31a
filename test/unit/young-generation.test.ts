import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** Allocates ~600 MB of short- and medium-lived objects, then prints the young generation's size in bytes. */
const ALLOCATE = `
let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1e5) keep = []; }
console.log(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
`;

function youngGenerationAfterAllocating(preload?: string): number {
  const args = [...(preload ? ['-r', preload] : []), '-e', ALLOCATE];
  return Number(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 }).trim());
}

describe('the young generation bound of peapod-cri (server/young-generation.ts)', function () {
  this.timeout(120_000);

  it('keeps the young generation at 2 MiB under an allocation load that grows it without the bound', () => {
    const unbounded = youngGenerationAfterAllocating();
    const bounded = youngGenerationAfterAllocating(path.resolve(__dirname, '..', '..', 'src', 'server', 'young-generation.js'));
    // The load must grow an unbounded young generation, or the check below would prove nothing.
    expect(unbounded, 'unbounded young generation (bytes)').to.be.above(4 << 20);
    expect(bounded, 'bounded young generation (bytes)').to.be.at.most(2 << 20);
  });
});
