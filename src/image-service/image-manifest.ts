/**
 * The image manifest of a stored image (the platform manifest when it was
 * pulled through an index), read from the content store: what `save` writes
 * and `image inspect` reports as ManifestType.
 */
import * as fs from 'node:fs';
import { ImageManifest, MAX_MANIFEST_BYTES, parseManifest } from './manifest';
import type { ImageRecord, ImageStore } from './store/image-store';

/** A stored manifest: its bytes as pulled, digest and parsed form. */
export interface StoredManifest {
  digest: string;
  body: Buffer;
  manifest: ImageManifest;
}

/**
 * Finds the manifest of `img` whose config is the image: the manifest it was
 * pulled by, or, for an index, the index entry stored with it.
 * @throws Error when the store has no such manifest (a damaged store).
 */
export function storedManifest(store: ImageStore, img: ImageRecord): StoredManifest {
  const read = (digest: string): { body: Buffer; parsed: ReturnType<typeof parseManifest> } | undefined => {
    const p = store.blobPath(digest);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return undefined;
    }
    if (st.size > MAX_MANIFEST_BYTES) return undefined;
    const body = fs.readFileSync(p);
    try {
      return { body, parsed: parseManifest(body, undefined) };
    } catch {
      return undefined;
    }
  };
  const top = read(img.manifestDigest);
  if (top?.parsed.kind === 'manifest' && top.parsed.config.digest === img.id) return { digest: img.manifestDigest, body: top.body, manifest: top.parsed };
  const blobs = new Set(store.imageBlobs(img.id));
  const candidates = top?.parsed.kind === 'index' ? top.parsed.manifests.map((m) => m.digest) : [...blobs];
  for (const d of candidates) {
    if (!blobs.has(d) || d === img.id) continue;
    const m = read(d);
    if (m?.parsed.kind === 'manifest' && m.parsed.config.digest === img.id) return { digest: d, body: m.body, manifest: m.parsed };
  }
  throw new Error(`the store has no manifest for image ${img.id}`);
}
