/**
 * Responses that carry their own protobuf encoding, so the server sends
 * bytes made from parts encoded earlier instead of encoding the whole
 * message again (issue 15: a list or status reply of records that did not
 * change). A handler builds its response object as usual and attaches the
 * bytes of that very object (`attachEncoding`); the server's response
 * serializer (proto.ts `memoizeResponseEncoding`) sends the attached bytes
 * when there are any. The object stays what tests and in-process callers
 * read; the bytes are what goes on the wire.
 *
 * The parts compose as the protobuf wire format says
 * (protobuf.dev/programming-guides/encoding): a message is the
 * concatenation of its fields' encodings, each a tag (field number << 3 |
 * wire type) and a value; a repeated field is one such record per entry,
 * so the encoding of `{ items: [a, b] }` is that of `{ items: [a] }`
 * followed by that of `{ items: [b] }`. protobufjs writes the fields in
 * field-number order, and so does every composition here, so the bytes
 * are the same as encoding the whole object.
 */

const attached = new WeakMap<object, Buffer>();

/**
 * Attaches `bytes`, the protobuf encoding of `response`, to it.
 * `response` must not be changed afterwards (the bytes would be stale).
 * @returns `response` itself
 */
export function attachEncoding<T extends object>(response: T, bytes: Buffer): T {
  attached.set(response, bytes);
  return response;
}

/** The bytes attached to `response` by attachEncoding, if any. */
export function attachedEncoding(response: object): Buffer | undefined {
  return attached.get(response);
}

/**
 * The encoding of an int64 field (wire type 0, varint) holding `value`.
 * @param fieldNumber the field's number in the proto (1 to 2^29-1)
 * @param value a decimal integer (as the loader's `longs: String` gives), within int64
 * @returns the bytes; empty for 0, which proto3 leaves out
 * @throws RangeError when `value` is not an integer or outside int64
 */
export function int64Field(fieldNumber: number, value: string | bigint): Buffer {
  const n = typeof value === 'bigint' ? value : BigInt(value);
  if (n < -(2n ** 63n) || n >= 2n ** 63n) throw new RangeError(`int64 field ${fieldNumber}: ${n} is outside int64`);
  if (n === 0n) return Buffer.alloc(0);
  return Buffer.from([...varint(BigInt(fieldNumber) << 3n), ...varint(BigInt.asUintN(64, n))]);
}

/** The base-128 varint of a non-negative integer, least significant group first. */
function varint(n: bigint): number[] {
  const out: number[] = [];
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}
