/**
 * Streaming decompression of a compressed image archive (`peapod load`): gzip through node:zlib, zstd
 * through fzstd (pure JavaScript; Node 20's zlib has no zstd), or none.
 */
import { PassThrough, Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';

/** Compressions an archive may come in. */
export type ArchiveCompression = 'gzip' | 'zstd' | 'none';

/** A Transform that decompresses zstd frames as they arrive. */
export function zstdDecompressStream(): Transform {
  let out: Transform;
  const dec = new Decompress((chunk: Uint8Array) => {
    if (chunk.length) out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  });
  out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        dec.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        cb();
      } catch (err) {
        cb(new Error(`zstd: ${(err as Error).message}`));
      }
    },
    flush(cb) {
      try {
        dec.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(new Error(`zstd: ${(err as Error).message}`));
      }
    },
  });
  return out;
}

/** A Transform that undoes `compression`. */
export function decompressStream(compression: ArchiveCompression): Transform {
  if (compression === 'gzip') return zlib.createGunzip();
  if (compression === 'zstd') return zstdDecompressStream();
  return new PassThrough();
}
