// The part of hpack.js (an HPACK, RFC 7541, implementation) that peapod uses.
declare module 'hpack.js' {
  import { Duplex } from 'node:stream';
  interface HeaderField {
    name: string;
    value: string;
    neverIndex: boolean;
  }
  interface Decompressor extends Duplex {
    write(chunk: Buffer): boolean;
    execute(cb?: (err: Error | null) => void): void;
    read(): HeaderField | null;
    updateTableSize(size: number): void;
  }
  /** `table.maxSize`: the dynamic table's size bound (SETTINGS_HEADER_TABLE_SIZE), in octets. */
  export const decompressor: { create(options: { table: { maxSize: number } }): Decompressor };
  /** The low-level decoder of integers and string literals (RFC 7541 §5). */
  interface Decoder {
    push(chunk: Buffer): void;
    /** Decodes one string literal: its octets (a Buffer when raw, numbers when Huffman-coded). @throws Error on a bad code. */
    decodeStr(): Buffer | number[];
  }
  export const decoder: { create(): Decoder };
  /** The static table (RFC 7541 Appendix A), index 1 first. */
  const staticTable: { table: Array<{ name: string; value: string; nameSize: number }> };
  export { staticTable as 'static-table' };
}
