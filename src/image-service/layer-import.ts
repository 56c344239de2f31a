/**
 * Unpacking a stored layer blob into the layer store, verified: the blob is
 * decompressed and unpacked (store/unpack.ts: safe paths, whiteouts) while
 * the uncompressed bytes are hashed, and the layer is recorded only when the
 * hash equals the config's diff ID. Once per chain ID across processes (a
 * lock row). `load` uses it for archive layers; the puller does the same
 * steps in its own ensureLayer (to be shared after the image-pipeline merge).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { checkDigest } from './reference';
import { decompressStream, LayerCompression } from './store/decompress';
import type { ImageStore } from './store/image-store';
import { unpackLayer } from './store/unpack';

/** A layer that failed to unpack or whose content is not its diff ID; the message names the blob. */
export class LayerImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerImportError';
  }
}

/**
 * Makes sure the layer store has `chainId`, unpacking the stored blob
 * `blobDigest` when it does not.
 * @returns true when this call added the layer.
 * @throws LayerImportError for an unsafe entry, a bad compression stream or a diff ID mismatch (nothing is recorded then).
 */
export async function importLayer(store: ImageStore, blobDigest: string, compression: LayerCompression, diffId: string, chainId: string): Promise<boolean> {
  if (store.getLayer(chainId)) return false;
  const release = await store.lock(`layer:${chainId}`);
  try {
    if (store.getLayer(chainId)) return false;
    const tmp = store.tempDir();
    const diff = path.join(tmp, 'diff');
    fs.mkdirSync(diff, { mode: 0o755 });
    const h = crypto.createHash(checkDigest(diffId).algorithm);
    const tap = new PassThrough();
    tap.on('data', (c: Buffer) => h.update(c));
    const input = fs.createReadStream(store.blobPath(blobDigest));
    const dec = decompressStream(compression);
    input.on('error', (e) => dec.destroy(e));
    dec.on('error', (e) => tap.destroy(e));
    input.pipe(dec).pipe(tap);
    let result;
    try {
      result = await unpackLayer(tap, diff);
      if (!tap.readableEnded) await new Promise<void>((resolve, reject) => tap.on('end', resolve).on('error', reject).resume());
    } catch (err) {
      input.destroy();
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new LayerImportError(`layer ${blobDigest}: ${(err as Error).message}`);
    }
    const actual = `${checkDigest(diffId).algorithm}:${h.digest('hex')}`;
    if (actual !== diffId) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new LayerImportError(`layer ${blobDigest}: uncompressed digest ${actual} does not match the config's diff ID ${diffId}`);
    }
    store.commitLayer(chainId, diffId, tmp, result.size);
    return true;
  } finally {
    release();
  }
}
