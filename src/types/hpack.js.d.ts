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
  export const decompressor: { create(options: { table: { size: number } }): Decompressor };
}
