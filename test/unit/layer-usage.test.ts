import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WritableLayerUsage } from '../../src/runtime-service/container/layer-usage';

describe('WritableLayerUsage (background, cached disk usage)', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-usage-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('answers at once with the last measurement and measures in the background', async () => {
    const layer = path.join(tmp, 'upper');
    fs.mkdirSync(path.join(layer, 'd'), { recursive: true });
    fs.writeFileSync(path.join(layer, 'd', 'a'), Buffer.alloc(100_000, 1));
    fs.writeFileSync(path.join(layer, 'd', 'b'), Buffer.alloc(10, 1));
    fs.linkSync(path.join(layer, 'd', 'a'), path.join(layer, 'a-again'));
    const usage = new WritableLayerUsage(60_000);
    expect(usage.get('c1', layer)).to.deep.equal({ usedBytes: 0n, inodesUsed: 0n, measuredAtNs: 0n });
    await usage.settled();
    const u = usage.get('c1', layer);
    expect(u.measuredAtNs > 0n).to.equal(true);
    // upper, d, a (linked twice, counted once), b.
    expect(u.inodesUsed).to.equal(4n);
    expect(u.usedBytes >= 100_000n && u.usedBytes < 200_000n, String(u.usedBytes)).to.equal(true);
    // Fresh: no new measurement; the cached one is returned.
    fs.writeFileSync(path.join(layer, 'c'), Buffer.alloc(500_000, 1));
    await usage.settled();
    expect(usage.get('c1', layer)).to.deep.equal(u);
  });

  it('renews a measurement older than its maximum age', async () => {
    const layer = path.join(tmp, 'upper');
    fs.mkdirSync(layer);
    const usage = new WritableLayerUsage(0);
    usage.get('c1', layer);
    await usage.settled();
    fs.writeFileSync(path.join(layer, 'big'), Buffer.alloc(300_000, 1));
    usage.get('c1', layer);
    await usage.settled();
    expect(usage.get('c1', layer).usedBytes >= 300_000n).to.equal(true);
  });

  it('keeps nothing of a container forgotten while it was measured', async () => {
    const layer = path.join(tmp, 'upper');
    fs.mkdirSync(layer);
    const usage = new WritableLayerUsage(60_000);
    usage.get('c1', layer);
    usage.forget('c1');
    await usage.settled();
    expect(usage.get('c1', layer).measuredAtNs).to.equal(0n);
  });
});
