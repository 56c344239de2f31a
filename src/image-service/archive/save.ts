/**
 * Writes stored images as an OCI archive: a tar of an OCI image layout
 * (image-spec `image-layout.md`): `oci-layout`, `blobs/sha256/<hex>` for each
 * manifest, config and layer exactly as stored (so digests stay those of the
 * registry), and `index.json` naming each image's manifest, with its name in
 * the `org.opencontainers.image.ref.name` annotation (the full reference, as
 * Podman writes it). Blobs are re-hashed while written: a damaged store
 * fails the save instead of producing a bad archive.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import * as tar from 'tar-stream';
import { storedManifest } from '../image-manifest';
import type { ImageRecord, ImageStore } from '../store/image-store';

/** One image to save and the name to record for it (none: unnamed). */
export interface SaveItem {
  image: ImageRecord;
  name?: string;
}

/** A blob that does not match its digest in the store. */
export class SaveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaveError';
  }
}

const FIXED_MTIME = new Date(0);

function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644, mtime: FIXED_MTIME }, data, (err) => (err ? reject(err) : resolve())));
}

function addFile(pack: tar.Pack, name: string, file: string, size: number, digest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    const entry = pack.entry({ name, size, mode: 0o644, mtime: FIXED_MTIME }, (err) => {
      if (err) return reject(err);
      const actual = `sha256:${h.digest('hex')}`;
      if (actual !== digest) reject(new SaveError(`blob ${digest} in the store has digest ${actual}: the store is damaged`));
      else resolve();
    });
    const input = fs.createReadStream(file);
    input.on('data', (c) => h.update(c));
    input.on('error', (e) => {
      entry.destroy(e);
      reject(e);
    });
    input.pipe(entry);
  });
}

/**
 * Streams the archive of `items` into `out`; with `endOut` (default) ends it
 * and resolves when it has finished, otherwise resolves once every byte was
 * handed to it (for process.stdout, which is not ended).
 * @param onBlob told of each blob as it is written (for progress lines).
 * @throws SaveError for a blob that does not match its digest, Error for a
 *   store without an image's manifest.
 */
export async function saveOciArchive(store: ImageStore, items: SaveItem[], out: Writable, onBlob?: (kind: 'blob' | 'config' | 'manifest', digest: string) => void, endOut = true): Promise<void> {
  const pack = tar.pack();
  const done = new Promise<void>((resolve, reject) => {
    pack.on('error', reject);
    out.on('error', reject);
    if (endOut) out.on('finish', resolve);
    else pack.on('end', resolve);
  });
  (pack as unknown as Readable).pipe(out, { end: endOut });
  const written = new Set<string>();
  const manifests: Record<string, unknown>[] = [];
  const blob = async (digest: string, kind: 'blob' | 'config' | 'manifest'): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    const p = store.blobPath(digest);
    onBlob?.(kind, digest);
    await addFile(pack, `blobs/${digest.replace(':', '/')}`, p, fs.statSync(p).size, digest);
  };
  try {
    await addBuffer(pack, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    for (const { image, name } of items) {
      const m = storedManifest(store, image);
      for (const l of m.manifest.layers) await blob(l.digest, 'blob');
      await blob(m.manifest.config.digest, 'config');
      if (!written.has(m.digest)) {
        written.add(m.digest);
        onBlob?.('manifest', m.digest);
        await addBuffer(pack, `blobs/${m.digest.replace(':', '/')}`, m.body);
      }
      manifests.push({ mediaType: m.manifest.mediaType, digest: m.digest, size: m.body.length, ...(name ? { annotations: { 'org.opencontainers.image.ref.name': name } } : {}) });
    }
    await addBuffer(pack, 'index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })));
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
  await done;
}
