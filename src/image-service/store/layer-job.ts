/**
 * One layer's work in a single pass over its compressed bytes, meant for a
 * worker thread (layer-worker.ts) so that none of it runs on the event loop:
 *
 *   compressed bytes ─┬─ SHA-256 ─ checked against the descriptor's digest and size
 *                     ├─ written to the blob's temp file (when the blob is not stored yet)
 *                     └─ decompressed ─ SHA-256 ─ checked against the config's diff ID
 *                                      └─ TarReader ─ LayerUnpacker ─ the layer's temp dir
 *
 * The bytes come pushed (a download) or from a stored blob file. At the end
 * the content is verified, then made durable before the job reports done:
 * one syncfs of the store's filesystem when a layer was unpacked (one call
 * instead of an fsync per file; what containerd's `WithSyncFs` apply does),
 * and an fsync of the blob file. syncfs is peapod's addon's
 * (common/host/host-addon.ts), or `sync -f` (coreutils) where the build
 * made no addon: that one forks the whole server from the worker thread. The caller
 * records and moves the results into place only after that.
 *
 * Everything here is synchronous file I/O: right for a worker thread, wrong
 * for the event loop.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { PeapodError } from '../../common/errors';
import { scavengeYoungGeneration } from '../../common/host/heap-release';
import { syncfs } from '../../common/host/host-addon';
import { TarFormatError, TarReader } from './tar-reader';
import { LayerUnpacker, UnpackError, UnpackResult } from './unpack';

/** Compressions of layer media types. */
export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** What one job does. */
export interface LayerJobSpec {
  /** Store the compressed bytes in `file` (created), checking them against `digest` and `size`. */
  blob?: { file: string; digest: string; size: number };
  /** Read the compressed bytes from this stored blob instead of receiving them. */
  sourceFile?: string;
  /** Unpack into `dir` (which exists and is empty), checking the uncompressed bytes against `diffId`. */
  unpack?: {
    dir: string;
    /** A private directory on the same filesystem, outside `dir` (whiteout prototypes). */
    workDir: string;
    diffId: string;
    compression: LayerCompression;
  };
}

/** What a job produced. */
export interface LayerJobResult {
  /** Compressed bytes seen. */
  blobBytes: number;
  unpacked?: UnpackResult;
}

/** Why a job failed: `content` (the bytes are wrong: digest, size, format, an unsafe entry) or `io` (the machine failed). */
export type LayerJobErrorKind = 'content' | 'io';

/** A failed job; `kind` says whether another source could help. */
export class LayerJobError extends PeapodError {
  constructor(
    message: string,
    readonly kind: LayerJobErrorKind,
  ) {
    super(kind === 'content' ? 'INVALID_ARGUMENT' : 'INTERNAL', message);
    this.name = 'LayerJobError';
  }
}

/** Output chunk size of gzip (bytes): 1 MiB inflates a layer at twice the speed of zlib's 16 KiB default (fewer callbacks and writes). */
const GZIP_CHUNK = 1 << 20;
/** Read size from a stored blob (bytes). */
const READ_CHUNK = 1 << 20;
/**
 * Decompressed bytes between two scavenges of this thread's young
 * generation. gunzip hands out a fresh GZIP_CHUNK buffer per MiB of output,
 * dead as soon as it is hashed and unpacked; V8 counts that memory
 * (external to its heap) towards its next full collection, and a layer
 * worker's heap is small (~10 MB), so its limit is reached every 15-30 MiB:
 * 3-4 mark-compacts per 50 MB layer (`--trace-gc`), each marking the whole
 * heap. A scavenge every 4 MiB frees those buffers first (0.2-0.5 ms each
 * with a young generation this small): 1 mark-compact per layer or none.
 * At 16 MiB it did not help (measured 2026-12-02, the test registry).
 */
const SCAVENGE_BYTES = 4 << 20;

function algorithmOf(digest: string): string {
  const alg = digest.slice(0, digest.indexOf(':'));
  if (alg !== 'sha256' && alg !== 'sha512') throw new LayerJobError(`unsupported digest algorithm in ${digest}`, 'content');
  return alg;
}

/** A decompressor with one shape for gzip (node:zlib, asynchronous), zstd (fzstd) and none (both synchronous). */
interface Inflater {
  /** Takes `chunk`; `consumed` runs once it is processed (later for gzip). */
  write(chunk: Buffer, consumed: () => void): void;
  end(): void;
  destroy(): void;
}

function inflater(compression: LayerCompression, onData: (b: Buffer) => void, onEnd: () => void, onError: (e: Error) => void): Inflater {
  if (compression === 'gzip') {
    const gz = zlib.createGunzip({ chunkSize: GZIP_CHUNK });
    gz.on('data', onData);
    gz.on('end', onEnd);
    gz.on('error', (e) => onError(new LayerJobError(`gzip: ${e.message}`, 'content')));
    return { write: (c, consumed) => void gz.write(c, () => consumed()), end: () => gz.end(), destroy: () => gz.destroy() };
  }
  if (compression === 'zstd') {
    const z = new Decompress((c: Uint8Array) => {
      if (c.length) onData(Buffer.from(c.buffer, c.byteOffset, c.length));
    });
    const guarded = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        onError(e instanceof LayerJobError || e instanceof UnpackError || e instanceof TarFormatError ? e : new LayerJobError(`zstd: ${(e as Error).message}`, 'content'));
      }
    };
    return {
      write: (c, consumed) => {
        // A copy: fzstd keeps references to pushed chunks, and the caller reuses its buffers.
        guarded(() => z.push(Uint8Array.prototype.slice.call(c)));
        consumed();
      },
      end: () =>
        guarded(() => {
          z.push(new Uint8Array(0), true);
          onEnd();
        }),
      destroy: () => undefined,
    };
  }
  return {
    write: (c, consumed) => {
      onData(c);
      consumed();
    },
    end: onEnd,
    destroy: () => undefined,
  };
}

/** syncfs(2) of the filesystem holding `dir`: through the addon, else by running `sync -f DIR`. */
function syncFilesystemOf(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let done: boolean;
  try {
    done = syncfs(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!done) execFileSync('sync', ['-f', dir], { stdio: 'ignore' });
}

/** Classifies an error of the unpack side. */
function asJobError(err: unknown): LayerJobError {
  if (err instanceof LayerJobError) return err;
  if (err instanceof UnpackError || err instanceof TarFormatError) return new LayerJobError(err.message, 'content');
  return new LayerJobError((err as Error).message, 'io');
}

/**
 * Runs one LayerJobSpec. Push the compressed bytes with `push` and `end`
 * (or call `runFromFile` for a `sourceFile` spec); `done` settles with the
 * result. Each pushed chunk's `consumed` callback runs once the job holds
 * no reference to it (the sender may reuse the buffer), unless the job
 * failed first.
 */
export class LayerJob {
  readonly done: Promise<LayerJobResult>;
  private resolve!: (r: LayerJobResult) => void;
  private reject!: (e: LayerJobError) => void;
  private failed = false;
  private settled = false;
  private ended = false;
  private blobFd: number | undefined;
  private blobBytes = 0;
  /** Decompressed bytes so far, and at the last scavenge (SCAVENGE_BYTES). */
  private inflated = 0;
  private scavenged = 0;
  private readonly blobHash: crypto.Hash | undefined;
  private readonly diffHash: crypto.Hash | undefined;
  private readonly tar: TarReader | undefined;
  private readonly unpacker: LayerUnpacker | undefined;
  private readonly inflate: Inflater | undefined;
  /**
   * Why unpacking stopped while the blob is still being received: the rest
   * is still hashed, so that a corrupt download reports its digest mismatch
   * (the cause) rather than what the corruption did to gzip or tar.
   */
  private unpackError: LayerJobError | undefined;
  /** Chunks handed to the decompressor and not yet consumed (credited on an unpack failure). */
  private readonly outstanding = new Set<() => void>();

  constructor(private readonly spec: LayerJobSpec) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined); // the owner observes it; never an unhandled rejection
    try {
      if (spec.blob) {
        this.blobHash = crypto.createHash(algorithmOf(spec.blob.digest));
        this.blobFd = fs.openSync(spec.blob.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      }
      if (spec.unpack) {
        this.diffHash = crypto.createHash(algorithmOf(spec.unpack.diffId));
        const unpacker = new LayerUnpacker(spec.unpack.dir, spec.unpack.workDir);
        this.unpacker = unpacker;
        const tar = new TarReader(unpacker);
        this.tar = tar;
        const diffHash = this.diffHash;
        this.inflate = inflater(
          spec.unpack.compression,
          (out) => {
            if (this.failed) return;
            if (this.unpackError) return;
            try {
              diffHash.update(out);
              tar.push(out);
            } catch (err) {
              this.unpackFail(err);
            }
            this.inflated += out.length;
            if (this.inflated - this.scavenged >= SCAVENGE_BYTES) {
              this.scavenged = this.inflated;
              scavengeYoungGeneration();
            }
          },
          () => {
            if (!this.unpackError) this.complete();
          },
          (err) => this.unpackFail(err),
        );
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** Takes the next compressed bytes; `consumed` runs when the job is done with `chunk`. */
  push(chunk: Buffer, consumed: () => void = () => undefined): void {
    this.feed(chunk, consumed);
  }

  /** Hashes, stores and decompresses `chunk`; `consumed` runs once the decompressor is done with it. */
  private feed(chunk: Buffer, consumed: () => void): void {
    if (this.failed || this.ended) return;
    try {
      this.blobBytes += chunk.length;
      if (this.spec.blob && this.blobBytes > this.spec.blob.size) {
        throw new LayerJobError(`blob ${this.spec.blob.digest} is larger than the ${this.spec.blob.size} bytes its descriptor declares`, 'content');
      }
      this.blobHash?.update(chunk);
      if (this.blobFd !== undefined) {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(this.blobFd, chunk, off, chunk.length - off);
      }
      if (this.inflate && !this.unpackError) {
        const once = (): void => {
          if (this.outstanding.delete(once)) consumed();
        };
        this.outstanding.add(once);
        this.inflate.write(chunk, once);
      } else consumed();
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The unpack side failed. With a blob being stored, the job goes on
   * hashing it (see `unpackError`); otherwise it fails now.
   */
  private unpackFail(err: unknown): void {
    if (this.failed || this.settled || this.unpackError) return;
    if (!this.spec.blob || this.spec.sourceFile) {
      this.fail(err);
      return;
    }
    this.unpackError = asJobError(err);
    this.inflate?.destroy();
    this.unpacker?.abort();
    for (const consumed of [...this.outstanding]) consumed();
    if (this.ended) this.complete();
  }

  /** No more bytes: verify, finish and make durable. */
  end(): void {
    if (this.failed || this.ended) return;
    this.ended = true;
    if (this.inflate && !this.unpackError) this.inflate.end();
    else this.complete();
  }

  /** Stops the job; `done` rejects. Synchronous: when it returns, nothing more is written. */
  abort(reason = 'aborted'): void {
    this.fail(new LayerJobError(reason, 'io'));
  }

  /** Feeds the job from `spec.sourceFile`, at the decompressor's pace. */
  async runFromFile(): Promise<void> {
    const file = this.spec.sourceFile;
    if (!file) throw new Error('runFromFile needs spec.sourceFile');
    const stopped = this.done.then(
      () => undefined,
      () => undefined,
    );
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'r');
      const buf = Buffer.allocUnsafe(READ_CHUNK); // reused: each chunk is consumed before the next read
      for (;;) {
        if (this.failed) return;
        const n = fs.readSync(fd, buf, 0, READ_CHUNK, null);
        if (n === 0) break;
        // A destroyed decompressor may never call back: a failure also ends the wait.
        await Promise.race([new Promise<void>((resolve) => this.feed(buf.subarray(0, n), resolve)), stopped]);
      }
      this.end();
    } catch (err) {
      this.fail(err);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  private complete(): void {
    if (this.failed || this.settled) return;
    try {
      const blob = this.spec.blob;
      if (blob) {
        const actual = `${algorithmOf(blob.digest)}:${this.blobHash!.digest('hex')}`;
        if (actual !== blob.digest) throw new LayerJobError(`blob digest mismatch: expected ${blob.digest}, got ${actual} (${this.blobBytes} bytes)`, 'content');
        if (this.blobBytes !== blob.size) throw new LayerJobError(`blob ${blob.digest} is ${this.blobBytes} bytes, the manifest says ${blob.size}`, 'content');
      }
      if (this.unpackError) throw this.unpackError;
      let unpacked: UnpackResult | undefined;
      const unpack = this.spec.unpack;
      if (unpack) {
        this.tar!.finish();
        const actual = `${algorithmOf(unpack.diffId)}:${this.diffHash!.digest('hex')}`;
        if (actual !== unpack.diffId) throw new LayerJobError(`uncompressed digest ${actual} does not match the config's diff ID ${unpack.diffId}`, 'content');
        unpacked = this.unpacker!.finish();
        // One syncfs for everything written on this filesystem (the layer's files and directories, the blob).
        syncFilesystemOf(unpack.dir);
      }
      if (this.blobFd !== undefined) {
        fs.fsyncSync(this.blobFd);
        fs.closeSync(this.blobFd);
        this.blobFd = undefined;
      }
      this.settled = true;
      this.resolve({ blobBytes: this.blobBytes, unpacked });
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.failed || this.settled) return;
    this.failed = true;
    this.inflate?.destroy();
    this.unpacker?.abort();
    if (this.blobFd !== undefined) {
      try {
        fs.closeSync(this.blobFd);
      } catch {
        // already closed
      }
      this.blobFd = undefined;
    }
    this.reject(asJobError(err));
  }
}
