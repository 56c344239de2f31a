/**
 * The last response of a list RPC, kept while its inputs stay the same: the
 * same request key and the very same (frozen, cached) records, compared by
 * identity. Then the same response object is returned again, so neither its
 * views are rebuilt nor, as the server memoizes encodings by response object
 * (server/proto.ts `memoizeResponseEncoding`), its bytes re-encoded. The
 * stores hand out the same record objects only while the state database is
 * unchanged (state-db.ts `changeStamp`), so a response is never stale.
 */
export class ResponseMemo<R extends object> {
  private last: { key: string; parts: readonly object[]; response: R } | undefined;

  /**
   * The response for `key` and `parts`: the last one when both are the same
   * (key equal, parts the same objects in the same order), else `build()`'s.
   * @param key the request's filter, serialized
   * @param parts the records the response is made of
   */
  get(key: string, parts: readonly object[], build: () => R): R {
    const last = this.last;
    if (last && last.key === key && last.parts.length === parts.length && last.parts.every((p, i) => p === parts[i])) return last.response;
    const response = build();
    this.last = { key, parts, response };
    return response;
  }
}
