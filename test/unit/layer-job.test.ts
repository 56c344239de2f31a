import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { LayerJob, LayerJobError, LayerJobSpec } from '../../src/image-service/store/layer-job';
import { LayerWorkerPool } from '../../src/image-service/store/layer-workers';
import { layerTar, sha256 } from '../fixtures/image-builder';

describe('layer jobs: one pass over a layer, in a worker thread', function () {
  this.timeout(30_000);
  let tmp: string;
  let pool: LayerWorkerPool;
  let layer: { tar: Buffer; gz: Buffer };
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-layer-job-'));
    pool = new LayerWorkerPool(2);
    const tar = await layerTar([
      { type: 'file', path: 'a/b.txt', content: 'hello\n' },
      { type: 'file', path: 'big.bin', content: Buffer.alloc(3 << 20, 1) },
    ]);
    layer = { tar, gz: zlib.gzipSync(tar) };
  });
  after(async () => {
    await pool.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function dirs(): { work: string; blob: string; diff: string } {
    const work = fs.mkdtempSync(path.join(tmp, 'job-'));
    fs.mkdirSync(path.join(work, 'diff'));
    return { work, blob: path.join(work, 'blob'), diff: path.join(work, 'diff') };
  }

  function spec(d: ReturnType<typeof dirs>, over: Partial<{ digest: string; size: number; diffId: string }> = {}): LayerJobSpec {
    return {
      blob: { file: d.blob, digest: over.digest ?? sha256(layer.gz), size: over.size ?? layer.gz.length },
      unpack: { dir: d.diff, workDir: d.work, diffId: over.diffId ?? sha256(layer.tar), compression: 'gzip' },
    };
  }

  it('stores the blob and unpacks it in the same pass, from a download handed over in chunks', async () => {
    const d = dirs();
    const r = await pool.run(spec(d), { source: Readable.from([layer.gz.subarray(0, 1000), layer.gz.subarray(1000)]) });
    expect(r.blobBytes).to.equal(layer.gz.length);
    expect(r.unpacked).to.deep.include({ size: 6 + (3 << 20) });
    expect(fs.readFileSync(d.blob).equals(layer.gz)).to.equal(true);
    expect(fs.readFileSync(path.join(d.diff, 'a/b.txt'), 'utf8')).to.equal('hello\n');
  });

  it('keeps spare download buffers while jobs run and frees them once none runs, while the worker still lives', async () => {
    const idlePool = new LayerWorkerPool(1, 600_000);
    try {
      const tar = await layerTar([{ type: 'file', path: 'random.bin', content: crypto.randomBytes(3 << 20) }]);
      const gz = zlib.gzipSync(tar, { level: 1 });
      const d = dirs();
      const s: LayerJobSpec = {
        blob: { file: d.blob, digest: sha256(gz), size: gz.length },
        unpack: { dir: d.diff, workDir: d.work, diffId: sha256(tar), compression: 'gzip' },
      };
      await idlePool.run(s, { source: Readable.from([gz]) });
      const spares = idlePool.spareBuffers;
      expect(spares).to.be.greaterThan(0);
      const held = process.memoryUsage().arrayBuffers;
      // Freed, not dropped for a garbage collection to find: the process's ArrayBuffer memory falls by as much.
      const freed = (): boolean => idlePool.spareBuffers === 0 && process.memoryUsage().arrayBuffers <= held - spares * (1 << 20);
      const deadline = Date.now() + 20_000;
      while (!freed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(idlePool.spareBuffers).to.equal(0);
      expect(held - process.memoryUsage().arrayBuffers).to.be.at.least(spares * (1 << 20));
    } finally {
      await idlePool.close();
    }
  });

  it('unpacks a stored blob read by the worker itself', async () => {
    const d = dirs();
    fs.writeFileSync(d.blob, layer.gz);
    const r = await pool.run({ sourceFile: d.blob, unpack: spec(d).unpack });
    expect(r.unpacked?.entries).to.equal(3);
    expect(fs.statSync(path.join(d.diff, 'big.bin')).size).to.equal(3 << 20);
  });

  it('stops a download one byte past the declared size and never writes more than that size', async () => {
    const d = dirs();
    const size = 1 << 20;
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 << 10;
        this.push(Buffer.alloc(64 << 10, 2));
      },
    });
    const err = await pool
      .run({ blob: { file: d.blob, digest: sha256('x'), size } }, { source: endless, maxBytes: size, tooLarge: (n) => new Error(`too large at ${n}`) })
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(/^too large at \d+$/);
    expect(Number(/\d+$/.exec((err as Error).message)![0])).to.be.within(size + 1, size + (64 << 10));
    expect(endless.destroyed).to.equal(true);
    expect(produced).to.be.below(size + (16 << 20));
    expect(fs.statSync(d.blob).size).to.be.at.most(size);
    // The job itself refuses bytes past the size too, before writing them.
    const d2 = dirs();
    const job = new LayerJob({ blob: { file: d2.blob, digest: sha256('x'), size: 10 } });
    job.push(Buffer.alloc(11));
    const e2 = await job.done.catch((e: LayerJobError) => e);
    expect((e2 as LayerJobError).kind).to.equal('content');
    expect((e2 as Error).message).to.contain('larger than the 10 bytes its descriptor declares');
    expect(fs.statSync(d2.blob).size).to.equal(0);
  });

  it('reports a corrupt download as a digest mismatch, not as what the corruption did to gzip', async () => {
    const d = dirs();
    const bad = Buffer.from(layer.gz);
    bad[bad.length >> 1] ^= 0xff;
    bad[(bad.length >> 1) + 1] ^= 0xff;
    const err = await pool.run(spec(d), { source: Readable.from([bad]) }).catch((e: LayerJobError) => e);
    expect(err).to.be.instanceOf(LayerJobError);
    expect((err as LayerJobError).kind).to.equal('content');
    expect((err as Error).message).to.contain(`blob digest mismatch: expected ${sha256(layer.gz)}`);
  });

  it('refuses content whose uncompressed digest is not the diff ID, and a truncated layer', async () => {
    const wrongDiff = await pool.run(spec(dirs(), { diffId: sha256('other') }), { source: Readable.from([layer.gz]) }).catch((e: Error) => e);
    expect((wrongDiff as Error).message).to.contain(`does not match the config's diff ID ${sha256('other')}`);
    const cut = zlib.gzipSync(layer.tar.subarray(0, 2 << 20));
    const truncated = await pool.run(spec(dirs(), { digest: sha256(cut), size: cut.length }), { source: Readable.from([cut]) }).catch((e: Error) => e);
    expect((truncated as Error).message).to.match(/truncated/);
  });
});
