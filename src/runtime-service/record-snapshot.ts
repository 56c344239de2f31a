import { deepFreeze } from '../common/deep-freeze';

/**
 * One store's records as shared, deep-frozen objects, read again only when
 * the state database's change stamp moves (a commit of any process, or a
 * write of this one): the same objects while it is unchanged, so a caller
 * may key what it derives from a record (a status response, its encoding)
 * by the object. Used by ContainerStore and SandboxStore.
 */
export class RecordSnapshot<R extends { id: string }> {
  private listed: { stamp: string; records: readonly R[]; byId?: Map<string, R> } | undefined;

  /**
   * @param stamp the state database's current change stamp (StateDb.changeStamp)
   * @param load reads and parses the store's records (oldest first), leaving out those that cannot be read
   */
  constructor(
    private readonly stamp: () => string,
    private readonly load: () => R[],
  ) {}

  /** Every record, frozen, in `load`'s order. */
  records(): readonly R[] {
    return this.current().records;
  }

  /**
   * The shared record of `idOrPrefix`: a full (64-character) ID from the
   * snapshot, with no query and no parse; a prefix resolved by `lookup` and
   * answered with the snapshot's object of that ID (or the looked-up record,
   * frozen, when the snapshot leaves it out). Undefined for '' or no match.
   */
  shared(idOrPrefix: string, lookup: (idOrPrefix: string) => R | undefined): R | undefined {
    if (idOrPrefix === '') return undefined;
    const snap = this.current();
    const byId = (snap.byId ??= new Map(snap.records.map((r) => [r.id, r])));
    const hit = byId.get(idOrPrefix);
    if (hit || idOrPrefix.length === 64) return hit;
    const found = lookup(idOrPrefix);
    return found ? (byId.get(found.id) ?? deepFreeze(found)) : undefined;
  }

  private current(): { stamp: string; records: readonly R[]; byId?: Map<string, R> } {
    const stamp = this.stamp();
    if (this.listed?.stamp !== stamp) this.listed = { stamp, records: this.load().map((r) => deepFreeze(r)) };
    return this.listed;
  }
}
