import { deepFreeze } from '../common/deep-freeze';

/** A snapshot: the records in the store's order, and each by the JSON text of its row. */
interface Listed<R> {
  stamp: string;
  records: readonly R[];
  /** Each record by its row's JSON text: what the next read reuses. */
  byJson: Map<string, R>;
  byId?: Map<string, R>;
}

/**
 * One store's records as shared, deep-frozen objects, read again only when
 * the state database's change stamp moves (a commit of any process, or a
 * write of this one): the same objects while it is unchanged, so a caller
 * may key what it derives from a record (a status response, its encoding,
 * a list entry's view and bytes) by the object. When the stamp moves, the
 * rows are read again but only those whose JSON text differs from the last
 * read are parsed and frozen: a row with the same text keeps its object,
 * so a change to one pod or container (any write moves the stamp) costs
 * one parse, and every cache keyed by the other records stays valid
 * (issue 15: a relist after one change re-encoded every entry, and every
 * lifecycle event's list parsed every row). Used by ContainerStore and
 * SandboxStore.
 */
export class RecordSnapshot<R extends { id: string }> {
  private listed: Listed<R> | undefined;

  /**
   * @param stamp the state database's current change stamp (StateDb.changeStamp)
   * @param rows reads the store's rows (oldest first), each with its record's JSON text
   * @param parse a row's record, or undefined when it cannot be read (left out; recovery repairs it)
   */
  constructor(
    private readonly stamp: () => string,
    private readonly rows: () => readonly { record: string }[],
    private readonly parse: (json: string) => R | undefined,
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

  private current(): Listed<R> {
    const stamp = this.stamp();
    if (this.listed?.stamp !== stamp) this.listed = this.read(stamp, this.listed?.byJson);
    return this.listed;
  }

  /** The rows read now, each record the last read's object when its JSON text is the same. */
  private read(stamp: string, last: Map<string, R> | undefined): Listed<R> {
    const records: R[] = [];
    const byJson = new Map<string, R>();
    for (const { record: json } of this.rows()) {
      let rec = last?.get(json);
      if (!rec) {
        const parsed = this.parse(json);
        if (!parsed) continue;
        rec = deepFreeze(parsed);
      }
      records.push(rec);
      byJson.set(json, rec);
    }
    return { stamp, records, byJson };
  }
}
