/**
 * What a status RPC derives from a record (its response), kept for as long
 * as that very record object is alive. The stores hand out shared,
 * deep-frozen records that stay the same object while the state database
 * is unchanged (ContainerStore.findShared, SandboxStore.getShared: keyed by
 * `StateDb.changeStamp`, which moves on any commit of any process), and a
 * new object after any change; so an entry is never stale, and one whose
 * record is dropped goes with it (a WeakMap). Answering the same response
 * object again also skips its encoding (server/proto.ts
 * `memoizeResponseEncoding`), so a response must not be changed once built.
 */
export class RecordMemo<K extends object, V> {
  private readonly built = new WeakMap<K, V>();

  /** The value kept for `record`, else `build()`'s, kept. */
  get(record: K, build: () => V): V {
    let v = this.built.get(record);
    if (v === undefined) {
      v = build();
      this.built.set(record, v);
    }
    return v;
  }
}
