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
 * The GET goes first through BlobGet (blob-get.ts: a bare socket reading
 * into one reused buffer, no undici, no per-read allocation), which covers
 * a 200 with Content-Length after any redirects; whatever else the
 * registry answers before the body (a 401 for an expired token, a 5xx, a
 * chunked body, a connection error) makes the worker ask again with a
 * RegistryClient, which retries, refreshes tokens and reports errors as
 * the main thread's client would. undici is loaded only then.
 *
 * Bounds as on the main thread before (puller.ts): a Content-Length over
 * the descriptor's size is refused before any byte is read; the body is cut
 * off at one byte past the size; at most FETCH_HIGH_WATER bytes wait in the
 * job (the body pauses above it, resumes below FETCH_LOW_WATER).
 */
import type { Readable } from 'node:stream';
import { scavengeYoungGeneration } from '../../common/host/heap-release';
import { blobRequestOf, RegistryClient, RegistryClientOptions, RegistryError } from '../registry-client';
import { BlobGet } from './blob-get';
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
  let fetchError: BlobFetchError | undefined;
  /** Stops the current source of bytes (the socket of BlobGet, or the RegistryClient's body). */
  let cancel: (() => void) | undefined;
  const stop = (err: BlobFetchError): void => {
    fetchError ??= err;
    cancel?.();
    job.abort(err.message);
  };
  onAbort((reason) => stop(new BlobFetchError(reason, 'network')));
  const waitJob = async (): Promise<LayerJobResult> => {
    try {
      return await job.done;
    } catch (err) {
      throw fetchError ?? err;
    }
  };
  const fast = blobRequestOf(spec.registry, spec.repo, spec.digest);
  if (fast) {
    const opts = spec.registry.options;
    let feed: Feeder | undefined;
    const get: BlobGet = new BlobGet(
      { ...fast, insecure: opts.insecure, connectTimeoutMs: opts.connectTimeoutMs ?? 15_000, idleTimeoutMs: opts.idleTimeoutMs ?? 60_000 },
      {
        start: (length) => {
          if (length > spec.size) {
            stop(tooLargeByLength(spec, length));
            return false;
          }
          feed = feeder(spec, job, onProgress, stop, { pause: () => get.pause(), resume: () => get.resume(), cancel: () => get.abort() });
          return true;
        },
        data: (buf, start, end) => feed!.data(buf, start, end),
        end: () => feed!.end(),
        error: (err) => feed!.fail(new BlobFetchError(`blob ${spec.digest}: ${err.message}`, 'network')),
      },
    );
    cancel = () => get.abort();
    const outcome = await get.outcome;
    if (fetchError) throw fetchError;
    if (outcome.kind === 'streamed') return waitJob();
  }
  return fetchWithClient(spec, job, onProgress, stop, (c) => (cancel = c), () => fetchError, waitJob);
}

function tooLargeByLength(spec: BlobFetchSpec, length: number): BlobFetchError {
  return new BlobFetchError(`blob ${spec.digest} is ${length} bytes (Content-Length), larger than the ${spec.size} bytes its descriptor declares`, 'too-large');
}

/** The download through a RegistryClient (undici): retries, token refresh, error bodies. */
async function fetchWithClient(
  spec: BlobFetchSpec,
  job: LayerJob,
  onProgress: (fetched: number) => void,
  stop: (err: BlobFetchError) => void,
  setCancel: (cancel: () => void) => void,
  fetchError: () => BlobFetchError | undefined,
  waitJob: () => Promise<LayerJobResult>,
): Promise<LayerJobResult> {
  const client = new RegistryClient(spec.registry.host, spec.registry.options);
  let body: Readable | undefined;
  setCancel(() => body?.destroy());
  try {
    let res;
    try {
      res = await client.get(spec.repo, `blobs/${spec.digest}`);
    } catch (err) {
      if (err instanceof RegistryError) throw new BlobFetchError(err.message, 'registry', err.status);
      throw new BlobFetchError((err as Error).message, 'network');
    }
    body = res.body;
    if (fetchError()) body.destroy();
    else {
      const len = Number(res.headers['content-length'] ?? 0);
      if (len > spec.size) stop(tooLargeByLength(spec, len));
      else pump(spec, body, job, onProgress, stop);
    }
    return await waitJob();
  } catch (err) {
    if (err instanceof BlobFetchError || err instanceof LayerJobError) throw err;
    throw new LayerJobError((err as Error).message, 'io');
  } finally {
    body?.destroy();
    await client.close().catch(() => undefined);
  }
}

/** Bytes gathered from the socket's reads before they go to the job: one hash update, blob write and gunzip call per MiB, not per read. */
const BATCH = 1 << 20;

/** The job's side of a download: takes the body's bytes as they come. */
interface Feeder {
  /** Body bytes `buf[start, end)`, copied before the call returns. */
  data(buf: Buffer, start: number, end: number): void;
  /** The body is complete. */
  end(): void;
  /** The download failed (stops the source and the job). */
  fail(err: BlobFetchError): void;
}

/**
 * Moves a body's bytes into `job` in BATCH-sized buffers (recycled once
 * the job has consumed them) with flow control (`flow`) and the size
 * bound; ends the job at the body's end; cancels the source when the job
 * fails on its own. Reports 0 at once.
 */
function feeder(spec: BlobFetchSpec, job: LayerJob, onProgress: (fetched: number) => void, stop: (err: BlobFetchError) => void, flow: { pause(): void; resume(): void; cancel(): void }): Feeder {
  const step = Math.max(PROGRESS_STEP, Math.ceil(spec.size / 100));
  const spare: Buffer[] = [];
  let buf: Buffer = Buffer.allocUnsafeSlow(Math.min(BATCH, Math.max(1, spec.size)));
  let fill = 0;
  let received = 0;
  let reported = 0;
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
        flow.resume();
      }
    });
  };
  // A job that fails on its own (a content error, the disk) stops the download; its error is the one reported.
  job.done.catch(() => {
    failed = true;
    flow.cancel();
  });
  onProgress(0);
  return {
    data(chunk, start, end) {
      if (failed) return;
      received += end - start;
      if (received > spec.size) {
        fail(new BlobFetchError(`blob ${spec.digest} is larger than the ${spec.size} bytes its descriptor declares (stopped at ${received})`, 'too-large'));
        return;
      }
      if (received - reported >= step) {
        reported = received;
        onProgress(received);
      }
      let off = start;
      while (off < end) {
        const n = chunk.copy(buf, fill, off, end);
        fill += n;
        off += n;
        if (fill === buf.length) flush();
      }
      if (!paused && inJob >= FETCH_HIGH_WATER) {
        paused = true;
        flow.pause();
      }
    },
    end() {
      if (failed) return;
      flush();
      if (reported !== received) onProgress(received);
      job.end();
    },
    fail,
  };
}

/**
 * Feeds a Readable body (the RegistryClient's) into `job`: the Feeder,
 * plus a scavenge every SCAVENGE_BYTES (each of its reads is a fresh
 * buffer: see SCAVENGE_BYTES).
 */
function pump(spec: BlobFetchSpec, body: Readable, job: LayerJob, onProgress: (fetched: number) => void, stop: (err: BlobFetchError) => void): void {
  const feed = feeder(spec, job, onProgress, stop, { pause: () => body.pause(), resume: () => body.resume(), cancel: () => body.destroy() });
  let received = 0;
  let scavenged = 0;
  body.on('data', (chunk: Buffer) => {
    feed.data(chunk, 0, chunk.length);
    received += chunk.length;
    if (received - scavenged >= SCAVENGE_BYTES) {
      scavenged = received;
      scavengeYoungGeneration();
    }
  });
  body.on('end', () => feed.end());
  body.on('error', (err) => feed.fail(new BlobFetchError(`blob ${spec.digest}: ${err.message}`, 'network')));
  body.on('close', () => {
    // A body closed without 'end' (the connection dropped) is a failed download.
    if (!body.readableEnded) feed.fail(new BlobFetchError('the download was cut off', 'network'));
  });
}
