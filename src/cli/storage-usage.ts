/**
 * What the store's images and the CLI's containers take on disk, for
 * `system df` and `system prune`: each image's size split into the layers
 * it shares with other images and those only it has (Podman's SharedSize
 * and UniqueSize), which images a container of either front end uses, and
 * each container's writable layer (walked asynchronously, its allocated
 * blocks).
 */
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';
import type { ContainerRecord } from '../runtime-service/container/record';

/** An image's sizes and users. */
export interface ImageUsage {
  image: ImageRecord;
  /** Bytes: its layers and config (ImageRecord.size). */
  size: number;
  /** Bytes of its layers that another image has too. */
  sharedSize: number;
  /** Bytes only it has: its other layers and its config. */
  uniqueSize: number;
  /** Containers of either front end made from it. */
  containers: number;
}

/** The images' usage, and the bytes they take together (a shared layer counted once). */
export interface ImagesUsage {
  images: ImageUsage[];
  /** Bytes of every distinct layer plus every config. */
  total: number;
  /** Bytes no image in use (by a container of either front end) needs. */
  reclaimable: number;
}

/**
 * Sizes of the stored images.
 * @param usersOf container IDs using an image (both front ends: runtime-service/image-removal.ts's rule)
 */
export function imagesUsage(store: ImageStore, usersOf: (imageId: string) => string[]): ImagesUsage {
  const images = store.list();
  const layerSize = new Map<string, number>();
  const refs = new Map<string, number>();
  for (const img of images) {
    for (const chain of new Set(img.chainIds)) {
      if (!layerSize.has(chain)) layerSize.set(chain, store.getLayer(chain)?.size ?? 0);
      refs.set(chain, (refs.get(chain) ?? 0) + 1);
    }
  }
  const usedLayers = new Set<string>();
  let total = 0;
  let used = 0;
  for (const size of layerSize.values()) total += size;
  const out = images.map((img): ImageUsage => {
    const chains = [...new Set(img.chainIds)];
    const layers = chains.reduce((s, c) => s + (layerSize.get(c) ?? 0), 0);
    const config = Math.max(0, img.size - layers);
    const shared = chains.filter((c) => (refs.get(c) ?? 0) > 1).reduce((s, c) => s + (layerSize.get(c) ?? 0), 0);
    const containers = usersOf(img.id).length;
    total += config;
    if (containers > 0) {
      used += config;
      for (const c of chains) usedLayers.add(c);
    }
    return { image: img, size: img.size, sharedSize: shared, uniqueSize: img.size - shared, containers };
  });
  for (const c of usedLayers) used += layerSize.get(c) ?? 0;
  return { images: out, total, reclaimable: total - used };
}

/**
 * Bytes the images would free if removed: the layers no other image keeps,
 * and their configs.
 */
export function freedByRemoving(store: ImageStore, remove: ImageRecord[]): number {
  const gone = new Set(remove.map((i) => i.id));
  const kept = new Set<string>();
  for (const img of store.list()) if (!gone.has(img.id)) for (const c of img.chainIds) kept.add(c);
  let bytes = 0;
  const counted = new Set<string>();
  for (const img of remove) {
    let layers = 0;
    for (const c of new Set(img.chainIds)) {
      const size = store.getLayer(c)?.size ?? 0;
      layers += size;
      if (!kept.has(c) && !counted.has(c)) {
        counted.add(c);
        bytes += size;
      }
    }
    bytes += Math.max(0, img.size - layers);
  }
  return bytes;
}

/**
 * Bytes a container's writable layer takes (allocated blocks of its upper
 * directory, walked without blocking the event loop); 0 when it is gone.
 */
export async function writableLayerBytes(c: ContainerRecord): Promise<number> {
  const { diskUsage } = require('../image-service/store/disk-usage') as typeof import('../image-service/store/disk-usage');
  return (await diskUsage(c.upperDir)).bytes;
}
