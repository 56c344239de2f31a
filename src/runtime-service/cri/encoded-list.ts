import { attachEncoding } from '../../server/encoded-response';

/** One list entry: its view and the encoding of a response holding only it. */
interface Entry<V> {
  view: V;
  bytes: Buffer;
}

/**
 * The responses of a list RPC whose only field is the repeated field of
 * its entries (ListContainers' `containers`, ListPodSandbox's `items`,
 * ListImages' `images`), built from the stores' shared records: each
 * record's view, and the encoding of a response holding only that view,
 * are made once per record object (a WeakMap: they go with the record);
 * a response is then the views in the records' order with, attached, the
 * concatenation of their encodings (server/encoded-response.ts: the
 * encoding of a repeated field is its entries' encodings in turn). So a
 * list after one record changed encodes that one entry, and a filtered
 * list (the kubelet's per-pod ListContainers) encodes none.
 *
 * Records must be the stores' frozen shared records: a changed record is a
 * new object, so an entry is never stale.
 */
export class EncodedList<R extends object, V, Res extends object> {
  private readonly entries = new WeakMap<R, Entry<V>>();

  /**
   * @param view the entry of a record (e.g. toCriContainer)
   * @param wrap the response of some entries (e.g. `(containers) => ({ containers })`)
   * @param serialize the RPC's response serializer (its method definition's `responseSerialize`)
   */
  constructor(
    private readonly view: (record: R) => V,
    private readonly wrap: (views: V[]) => Res,
    private readonly serialize: (response: Res) => Buffer,
  ) {}

  /** The view of `record`, built once per record object. */
  viewOf(record: R): V {
    return this.entry(record).view;
  }

  /**
   * The response of `records` (in that order), its encoding attached.
   * @param records the stores' shared records, filtered as the request says
   */
  response(records: readonly R[]): Res {
    const entries = records.map((r) => this.entry(r));
    const bytes = entries.length === 1 ? entries[0].bytes : Buffer.concat(entries.map((e) => e.bytes));
    return attachEncoding(this.wrap(entries.map((e) => e.view)), bytes);
  }

  private entry(record: R): Entry<V> {
    let e = this.entries.get(record);
    if (!e) {
      const view = this.view(record);
      e = { view, bytes: this.serialize(this.wrap([view])) };
      this.entries.set(record, e);
    }
    return e;
  }
}
