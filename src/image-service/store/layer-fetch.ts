/**
 * A layer worker fetching its own blob (the worker-thread side of a pull's
 * layer download): it GETs `/v2/<repo>/blobs/<digest>` with a
 * RegistryClient made from the pull's client (`RegistryClient.handoff()`:
 * the same credentials, timeouts, retries and redirect rules, and the
 * tokens and base URL that client learned, so no new ping or token
 * request), and feeds the socket's bytes straight into the LayerJob of the
 * same thread. The compressed bytes never cross the event loop or a
 * MessagePort: the main thread receives only progress counts and the
 * result.
 *
 * Bounds as on the main thread before (puller.ts): a Content-Length over
 * the descriptor's size is refused before any byte is read; the body is cut
 * off at one byte past the size; at most FETCH_HIGH_WATER bytes wait in the
 * job (the body pauses above it, resumes below FETCH_LOW_WATER).
 */
import type { Readable } from 'node:stream';
import { scavengeYoungGeneration } from '../../common/host/heap-release';
import { RegistryClient, RegistryClientOptions, RegistryError } from '../registry-client';
import { LayerJob, LayerJobError, LayerJobResult } from './layer-job';

/** What a worker needs to fetch a layer's blob itself. Plain data (structured-cloned into the worker). */
export interface BlobFetchSpec {
  /** The pull's client, from `RegistryClient.handoff()`. */
  registry: { host: string; options: RegistryClientOptions };
  /** Repository path on that registry. */
  repo: string;
  /** The descriptor's digest and size (bytes). */
  digest: string;
  size: number;
}

/**
 * Why a fetch failed, in a shape that crosses a MessagePort: `too-large`
 * (the registry sent or announced more than the descriptor's size: final,
 * a PullError on the main thread), `registry` (a RegistryError: final with
 * an HTTP status, retried without), `network` (the body failed or was cut
 * off: retried).
 */
export type BlobFetchErrorKind = 'too-large' | 'registry' | 'network';

/** A failed blob fetch; see BlobFetchErrorKind. */
export class BlobFetchError extends Error {
  constructor(
    message: string,
    readonly kind: BlobFetchErrorKind,
    /** The HTTP status of a `registry` failure, when there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BlobFetchError';
  }
}

/** Bytes waiting in the job above which the body pauses, and below which it resumes. */
const FETCH_HIGH_WATER = 8 << 20;
const FETCH_LOW_WATER = 4 << 20;
/**
 * Bytes received between two scavenges of this thread's young generation:
 * the socket reads (64 KiB each, dead once copied into a batch) are freed by
 * a cheap scavenge instead of piling up into full mark-compacts
 * (common/host/heap-release.ts).
 */
const SCAVENGE_BYTES = 16 << 20;
/** Least bytes between two progress reports (and at least 1% of the blob). */
const PROGRESS_STEP = 64 << 10;

/**
 * Fetches `spec`'s blob into `job` (made for a spec with `blob` set) and
 * waits for the job.
 * @param onProgress called with the bytes received so far: 0 once the
 *   response headers are in, then at most once per 64 KiB and 1% of the
 *   blob, and with the total at the end.
 * @param onAbort receives a function that stops the fetch and the job (the
 *   pool's `abort` message).
 * @returns the job's result (verified and durable).
 * @throws LayerJobError from the job (content or io), BlobFetchError from
 *   the download. When it throws, the job has stopped writing.
 */
export async function fetchIntoJob(spec: BlobFetchSpec, job: LayerJob, onProgress: (fetched: number) => void, onAbort: (abort: (reason: string) => void) => void): Promise<LayerJobResult> {
  const client = new RegistryClient(spec.registry.host, spec.registry.options);
  let fetchError: BlobFetchError | undefined;
  let body: Readable | undefined;
  const stop = (err: BlobFetchError): void => {
    fetchError ??= err;
    body?.destroy();
    job.abort(err.message);
  };
  onAbort((reason) => stop(new BlobFetchError(reason, 'network')));
  try {
    let res;
    try {
      res = await client.get(spec.repo, `blobs/${spec.digest}`);
    } catch (err) {
      if (err instanceof RegistryError) throw new BlobFetchError(err.message, 'registry', err.status);
      throw new BlobFetchError((err as Error).message, 'network');
    }
    body = res.body;
    if (fetchError) body.destroy();
    else {
      const len = Number(res.headers['content-length'] ?? 0);
      if (len > spec.size) stop(new BlobFetchError(`blob ${spec.digest} is ${len} bytes (Content-Length), larger than the ${spec.size} bytes its descriptor declares`, 'too-large'));
      else pump(spec, body, job, onProgress, stop);
    }
    try {
      return await job.done;
    } catch (err) {
      throw fetchError ?? err;
    }
  } catch (err) {
    if (err instanceof BlobFetchError || err instanceof LayerJobError) throw err;
    throw new LayerJobError((err as Error).message, 'io');
  } finally {
    body?.destroy();
    await client.close().catch(() => undefined);
  }
}

/** Bytes gathered from the socket's reads before they go to the job: one hash update, blob write and gunzip call per MiB, not per 64 KiB read. */
const BATCH = 1 << 20;

/**
 * Moves `body` into `job` in BATCH-sized buffers (recycled once the job has
 * consumed them) with flow control and the size bound; ends the job at the
 * body's end.
 */
function pump(spec: BlobFetchSpec, body: Readable, job: LayerJob, onProgress: (fetched: number) => void, stop: (err: BlobFetchError) => void): void {
  const step = Math.max(PROGRESS_STEP, Math.ceil(spec.size / 100));
  const spare: Buffer[] = [];
  let buf: Buffer = Buffer.allocUnsafeSlow(Math.min(BATCH, Math.max(1, spec.size)));
  let fill = 0;
  let received = 0;
  let reported = 0;
  let scavenged = 0;
  let inJob = 0;
  let paused = false;
  let failed = false;
  const fail = (err: BlobFetchError): void => {
    if (failed) return;
    failed = true;
    stop(err);
  };
  const flush = (): void => {
    if (fill === 0) return;
    const out = buf;
    const length = fill;
    buf = spare.pop() ?? Buffer.allocUnsafeSlow(BATCH);
    fill = 0;
    inJob += length;
    job.push(out.subarray(0, length), () => {
      inJob -= length;
      if (out.length === BATCH) spare.push(out);
      if (paused && inJob < FETCH_LOW_WATER && !failed) {
        paused = false;
        body.resume();
      }
    });
  };
  onProgress(0);
  body.on('data', (chunk: Buffer) => {
    if (failed) return;
    received += chunk.length;
    if (received > spec.size) {
      fail(new BlobFetchError(`blob ${spec.digest} is larger than the ${spec.size} bytes its descriptor declares (stopped at ${received})`, 'too-large'));
      return;
    }
    if (received - reported >= step) {
      reported = received;
      onProgress(received);
    }
    let off = 0;
    while (off < chunk.length) {
      const n = chunk.copy(buf, fill, off);
      fill += n;
      off += n;
      if (fill === buf.length) flush();
    }
    if (!paused && inJob >= FETCH_HIGH_WATER) {
      paused = true;
      body.pause();
    }
    if (received - scavenged >= SCAVENGE_BYTES) {
      scavenged = received;
      scavengeYoungGeneration();
    }
  });
  body.on('end', () => {
    if (failed) return;
    flush();
    if (reported !== received) onProgress(received);
    job.end();
  });
  body.on('error', (err) => fail(new BlobFetchError(`blob ${spec.digest}: ${err.message}`, 'network')));
  body.on('close', () => {
    // A body closed without 'end' (the connection dropped) is a failed download.
    if (!body.readableEnded) fail(new BlobFetchError('the download was cut off', 'network'));
  });
  // A job that fails on its own (a content error, the disk) stops the download.
  job.done.catch(() => {
    failed = true;
    body.destroy();
  });
}
