import { deepFreeze } from '../../common/deep-freeze';
import type { ImageRecord } from './image-store';

/** Most references whose resolution one snapshot remembers (a client naming images at random cannot grow it further). */
const MAX_RESOLVED = 1024;

/** What a snapshot is read from: the store's own queries and its database's change stamp. */
export interface ImageSnapshotSource {
  /**
   * A value that differs whenever the database may have changed since it was
   * last taken: another connection (any process: the CLI pulls into the same
   * store) committed, or this one changed a row.
   */
  stamp(): string;
  /** Every stored image, oldest first (ImageStore.list). */
  list(): ImageRecord[];
  /** The image a reference, ID, ID prefix or digest names (ImageStore.resolve). */
  resolve(ref: string): ImageRecord | undefined;
}

/**
 * The stored images as the status and list RPCs read them: every record
 * read once per database version (its change stamp) and deep-frozen, so
 * the same objects are handed out again while nothing changed and a caller
 * may key what it derives from them (a CRI view, a response and its
 * encoding) by the object; the resolution of each reference asked for is
 * remembered for the same version. Any commit, of this process or another,
 * makes the next read load a new snapshot, so nothing is ever stale.
 */
export class ImageSnapshots {
  private current: { stamp: string; list: readonly ImageRecord[]; byId: Map<string, ImageRecord>; resolved: Map<string, ImageRecord | undefined> } | undefined;

  /** @param source the store's queries and change stamp */
  constructor(private readonly source: ImageSnapshotSource) {}

  /** Every stored image, oldest first: the snapshot's shared, frozen records (the array is the caller's). */
  list(): ImageRecord[] {
    return [...this.snapshot().list];
  }

  /** As ImageStore.resolve, answered with the snapshot's record; a reference is resolved once per database version. */
  resolve(ref: string): ImageRecord | undefined {
    const snap = this.snapshot();
    if (snap.resolved.has(ref)) return snap.resolved.get(ref);
    const found = this.source.resolve(ref);
    const rec = found ? (snap.byId.get(found.id) ?? deepFreeze(found)) : undefined;
    if (snap.resolved.size >= MAX_RESOLVED) snap.resolved.clear();
    snap.resolved.set(ref, rec);
    return rec;
  }

  private snapshot(): NonNullable<ImageSnapshots['current']> {
    const stamp = this.source.stamp();
    if (this.current?.stamp !== stamp) {
      const list = this.source.list().map((r) => deepFreeze(r));
      this.current = { stamp, list, byId: new Map(list.map((r) => [r.id, r])), resolved: new Map() };
    }
    return this.current;
  }
}
