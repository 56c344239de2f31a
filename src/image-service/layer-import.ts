/**
 * Unpacking a stored layer blob into the layer store, verified: the blob is
 * decompressed and unpacked by the same layer job the puller runs (a worker
 * thread: safe paths, whiteouts, byte-exact xattrs, the uncompressed bytes
 * hashed), and the layer is recorded only when that hash equals the config's
 * diff ID and the files are durable. Once per chain ID across processes (a
 * lock row). `load` uses it for archive layers.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { PeapodError } from '../common/errors';
import type { ImageStore } from './store/image-store';
import { LayerCompression, LayerJobError } from './store/layer-job';
import { sharedLayerWorkers } from './store/layer-workers';

/** A layer that failed to unpack or whose content is not its diff ID; the message names the blob. */
export class LayerImportError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'LayerImportError';
  }
}

/** Worker threads the layer pool keeps for imports (the puller grows it to its own download concurrency). */
const IMPORT_WORKERS = 2;

/**
 * Makes sure the layer store has `chainId`, unpacking the stored blob
 * `blobDigest` when it does not.
 * @returns true when this call added the layer.
 * @throws LayerImportError for an unsafe entry, a bad compression stream or a
 *   diff ID mismatch (nothing is recorded then); LayerJobError (`io`) when
 *   the machine fails.
 */
export async function importLayer(store: ImageStore, blobDigest: string, compression: LayerCompression, diffId: string, chainId: string): Promise<boolean> {
  if (store.getLayer(chainId)) return false;
  const release = await store.lock(`layer:${chainId}`);
  try {
    if (store.getLayer(chainId)) return false;
    const tmp = store.tempDir();
    try {
      const layerDir = path.join(tmp, 'layer');
      await fsp.mkdir(path.join(layerDir, 'diff'), { recursive: true, mode: 0o755 });
      let result;
      try {
        result = await sharedLayerWorkers(IMPORT_WORKERS).run({
          sourceFile: store.blobPath(blobDigest),
          unpack: { dir: path.join(layerDir, 'diff'), workDir: tmp, diffId, compression },
        });
      } catch (err) {
        if (err instanceof LayerJobError && err.kind === 'content') throw new LayerImportError(`layer ${blobDigest}: ${err.message}`);
        throw err;
      }
      await store.commitLayer(chainId, diffId, layerDir, result.unpacked!.size);
      return true;
    } finally {
      store.removeTemp(tmp);
    }
  } finally {
    release();
  }
}
