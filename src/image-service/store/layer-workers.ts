/**
 * A pool of layer worker threads (layer-worker.ts) and the event-loop side
 * of a layer job: it hands a download's bytes to a worker in 1 MiB
 * transferred buffers (no copy across threads, one message per MiB) that
 * the worker sends back once consumed, for reuse (fresh memory costs page
 * faults and garbage collections at these rates); with flow control (the
 * download pauses while 8 MiB wait in the worker); and it cuts a download
 * off at its declared size. A pull's layer download does not come through
 * here: with `fetch` the worker downloads the blob itself (layer-fetch.ts)
 * and this thread only sees its progress and result.
 *
 * Workers start on demand, up to `size` at once (later jobs queue), and
 * exit after `idleMs` without work, so an idle server holds none. A process
 * shares one pool (`sharedLayerWorkers`): threads are a per-process
 * resource, whatever the number of pullers.
 *
 * What a finished pull held is given back when no job runs (RELEASE_DELAY_MS
 * after the last one ends) and again when the last worker has exited: the
 * spare buffers are freed at once (not left to a later garbage collection,
 * which an idle server may not run for minutes), the young generation is
 * scavenged (the download's socket reads) and glibc's heaps are trimmed
 * (common/host/heap-release.ts): glibc returns only the top of a heap
 * itself, and after a 200 MB pull peapod-cri kept 50-60 MiB of freed heap
 * resident (1 MiB download buffers fall below its dynamic mmap threshold,
 * the socket reads between them).
 */
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { MessageChannel, Worker } from 'node:worker_threads';
import { releaseHeapMemory } from '../../common/host/heap-release';
import { LayerJobError, LayerJobResult, LayerJobSpec } from './layer-job';
import { BlobFetchError, BlobFetchSpec } from './layer-fetch';
import type { FromWorker, ToWorker } from './layer-worker';

/** Bytes gathered before a buffer goes to the worker. */
const BATCH = 1 << 20;
/** Bytes in the worker's hands above which the download pauses, and below which it resumes. */
const HIGH_WATER = 8 << 20;
const LOW_WATER = 4 << 20;
/** Spare buffers kept for reuse, across the jobs of a pull (while jobs run). */
const MAX_SPARE = 24;
/** Milliseconds an idle worker lives by default: a pull right after another (the kubelet pulls one image at a time) finds its workers started. */
export const WORKER_IDLE_MS = 15_000;
/** Milliseconds without a running job before the pool gives memory back (a pull's next layer starts sooner). */
const RELEASE_DELAY_MS = 100;

/**
 * Frees `buffers` now rather than at a later garbage collection: they are
 * transferred into a message on a channel that is then closed, so their
 * memory goes with the undelivered message. The caller holds no other view
 * of them.
 */
function freeBuffers(buffers: ArrayBuffer[]): void {
  if (buffers.length === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, buffers);
  port1.close();
  port2.close();
}

/** How a job gets its bytes and reports them. */
export interface LayerRunOptions {
  /**
   * The compressed bytes (an HTTP body), or a function opening them, called
   * once a worker is free (so a queued download does not sit idle on an
   * open connection); absent when the spec names a `sourceFile`.
   */
  source?: Readable | (() => Promise<Readable>);
  /**
   * Instead of `source`: the worker downloads the blob itself
   * (layer-fetch.ts), so the bytes never pass through this thread; its
   * bounds are the spec's (the descriptor's size). Failures of the download
   * reject with a BlobFetchError.
   */
  fetch?: BlobFetchSpec;
  /** Most bytes accepted from `source`: one more fails the job with `tooLarge()` at once. */
  maxBytes?: number;
  tooLarge?: (received: number) => Error;
  /** Called with each chunk's length as it arrives from `source`. */
  onBytes?: (bytes: number) => void;
}

interface PoolWorker {
  worker: Worker;
  /** Handles this worker's messages for the job it runs. */
  onMessage?: (m: FromWorker) => void;
  onExit?: (err: Error) => void;
  idleTimer?: NodeJS.Timeout;
  /** It exited: never handed out again. */
  dead?: boolean;
}

/** Layer worker threads; see the file comment. */
export class LayerWorkerPool {
  private readonly idle: PoolWorker[] = [];
  private live = 0;
  private readonly waiting: { resolve: (w: PoolWorker) => void; reject: (err: Error) => void }[] = [];
  private nextId = 1;
  private closed = false;
  private readonly spare: ArrayBuffer[] = [];
  /** Jobs running now. */
  private running = 0;
  private releaseTimer: NodeJS.Timeout | undefined;

  /**
   * @param size most workers at once (at least 1)
   * @param idleMs milliseconds an idle worker lives (default WORKER_IDLE_MS)
   */
  constructor(
    private size: number,
    private readonly idleMs = WORKER_IDLE_MS,
  ) {}

  /** Spare 1 MiB buffers held for reuse now (none once no job has run for RELEASE_DELAY_MS). */
  get spareBuffers(): number {
    return this.spare.length;
  }

  /** Allows at least `size` workers at once from now on. */
  grow(size: number): void {
    this.size = Math.max(this.size, size);
  }

  private spawn(): PoolWorker {
    const worker = new Worker(path.join(__dirname, 'layer-worker.js'));
    const pw: PoolWorker = { worker };
    worker.on('message', (m: FromWorker) => pw.onMessage?.(m));
    worker.on('error', (err) => pw.onExit?.(new Error(`layer worker failed: ${err.message}`)));
    worker.on('exit', (code) => {
      pw.dead = true;
      this.live--;
      // The last worker gone (idle for idleMs, or closed): what its thread freed goes back too.
      if (this.live === 0) this.releaseMemory();
      const i = this.idle.indexOf(pw);
      if (i >= 0) this.idle.splice(i, 1);
      if (pw.idleTimer) clearTimeout(pw.idleTimer);
      pw.onExit?.(new Error(`layer worker exited (code ${code})`));
    });
    this.live++;
    return pw;
  }

  private acquire(): Promise<PoolWorker> {
    if (this.closed) return Promise.reject(new Error('layer worker pool is closed'));
    const w = this.idle.pop();
    if (w) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      w.idleTimer = undefined;
      w.worker.ref();
      return Promise.resolve(w);
    }
    if (this.live < Math.max(1, this.size)) {
      const pw = this.spawn();
      return Promise.resolve(pw);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(w: PoolWorker): void {
    w.onMessage = undefined;
    w.onExit = undefined;
    if (w.dead) {
      // Its place is free: a waiting job gets a fresh worker.
      const next = this.waiting.shift();
      if (next && !this.closed) next.resolve(this.spawn());
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      next.resolve(w);
      return;
    }
    if (this.closed) {
      void w.worker.terminate();
      return;
    }
    w.worker.unref();
    w.idleTimer = setTimeout(() => void w.worker.terminate(), this.idleMs);
    w.idleTimer.unref();
    this.idle.push(w);
  }

  /**
   * Runs one job in a worker.
   * @returns the job's result, once its content is verified and durable.
   * @throws LayerJobError (content or io) from the job; the source's own
   *   error when the download fails; `tooLarge()` past `maxBytes`;
   *   BlobFetchError when the worker's own download (`fetch`) fails. When
   *   it throws, the worker has stopped writing.
   */
  async run(spec: LayerJobSpec, opts: LayerRunOptions = {}): Promise<LayerJobResult> {
    const w = await this.acquire();
    this.running++;
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    const id = this.nextId++;
    const send = (m: ToWorker, transfer?: ArrayBuffer[]): void => w.worker.postMessage(m, transfer);
    try {
      const source = typeof opts.source === 'function' ? await opts.source() : opts.source;
      return await new Promise<LayerJobResult>((resolve, reject) => {
        let inWorker = 0;
        let paused = false;
        let failure: Error | undefined;
        const fresh = (): Buffer => {
          const ab = this.spare.pop();
          return ab ? Buffer.from(ab, 0, BATCH) : Buffer.allocUnsafeSlow(BATCH);
        };
        let buf = fresh();
        let fill = 0;
        let received = 0;

        // Settles only on the worker's final word, so nothing is written after we return.
        w.onMessage = (m) => {
          if (m.id !== id) return;
          if (m.type === 'credit') {
            inWorker -= m.bytes;
            if (m.buf.byteLength === BATCH && this.spare.length < MAX_SPARE) this.spare.push(m.buf);
            else freeBuffers([m.buf]);
            if (paused && inWorker < LOW_WATER && !failure) {
              paused = false;
              source?.resume();
            }
          } else if (m.type === 'progress') {
            // The first report (0 bytes, the response headers are in) is passed on too.
            if (m.fetched >= received) opts.onBytes?.(m.fetched - received);
            received = Math.max(received, m.fetched);
          } else if (m.type === 'done') {
            // The buffer being filled (empty after the last flush) is a spare too.
            if (this.spare.length < MAX_SPARE) this.spare.push(buf.buffer as ArrayBuffer);
            if (failure) reject(failure);
            else resolve(m.result);
          } else if (m.kind === 'content' || m.kind === 'io') reject(failure ?? new LayerJobError(m.message, m.kind));
          else reject(failure ?? new BlobFetchError(m.message, m.kind, m.status));
        };
        w.onExit = (err) => reject(failure ?? err);

        const fail = (err: Error): void => {
          if (failure) return;
          failure = err;
          source?.destroy();
          send({ type: 'abort', id, reason: err.message });
        };
        const flush = (): void => {
          if (fill === 0) return;
          const out = buf;
          const length = fill;
          buf = fresh();
          fill = 0;
          inWorker += length;
          send({ type: 'data', id, buf: out.buffer as ArrayBuffer, length }, [out.buffer as ArrayBuffer]);
        };

        send({ type: 'start', id, spec, fetch: opts.fetch });
        if (!source) return;
        source.on('data', (chunk: Buffer) => {
          if (failure) return;
          received += chunk.length;
          if (opts.maxBytes !== undefined && received > opts.maxBytes) {
            fail(opts.tooLarge?.(received) ?? new Error(`more than ${opts.maxBytes} bytes`));
            return;
          }
          opts.onBytes?.(chunk.length);
          let off = 0;
          while (off < chunk.length) {
            const n = chunk.copy(buf, fill, off);
            fill += n;
            off += n;
            if (fill === BATCH) flush();
          }
          if (!paused && inWorker >= HIGH_WATER) {
            paused = true;
            source.pause();
          }
        });
        source.on('end', () => {
          if (failure) return;
          flush();
          send({ type: 'end', id });
        });
        source.on('error', (err) => fail(err));
        source.on('close', () => {
          // A body closed without 'end' (the connection dropped) is a failed download.
          if (!failure && !source.readableEnded) fail(new Error('the download was cut off'));
        });
      });
    } finally {
      this.release(w);
      if (--this.running === 0) {
        this.releaseTimer = setTimeout(() => this.releaseMemory(), RELEASE_DELAY_MS);
        this.releaseTimer.unref();
      }
    }
  }

  /** With no job running: frees the spare buffers, scavenges and trims the malloc heaps (see the file comment). */
  private releaseMemory(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (this.running > 0) return;
    freeBuffers(this.spare.splice(0));
    void releaseHeapMemory();
  }

  /** Terminates the idle workers; busy ones end with their job, queued jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    for (const w of this.waiting.splice(0)) w.reject(new Error('layer worker pool is closed'));
    const all = [...this.idle];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.worker.terminate()));
  }
}

let shared: LayerWorkerPool | undefined;

/** The process's pool, allowing at least `size` workers at once. */
export function sharedLayerWorkers(size: number): LayerWorkerPool {
  shared ??= new LayerWorkerPool(size);
  shared.grow(size);
  return shared;
}
