/**
 * Entry point of a layer worker thread: runs one LayerJob at a time for
 * LayerWorkerPool (layer-workers.ts), which speaks this protocol:
 *
 *   pool → worker  { type: 'start', id, spec, fetch? } a job (spec: LayerJobSpec); with `fetch`
 *                                                  (BlobFetchSpec) the worker downloads the bytes itself
 *                                                  (layer-fetch.ts) and no 'data' follows
 *                  { type: 'data', id, buf, length } compressed bytes (buf: a transferred ArrayBuffer)
 *                  { type: 'end', id }             no more bytes
 *                  { type: 'abort', id, reason }   stop; the job answers 'error'
 *   worker → pool  { type: 'credit', id, bytes, buf } bytes consumed (flow control); buf comes back for reuse
 *                  { type: 'progress', id, fetched } bytes of a `fetch` job's download so far
 *                  { type: 'done', id, result }    LayerJobResult, after the content is durable
 *                  { type: 'error', id, message, kind, status? }  kind: LayerJobErrorKind or, for a
 *                                                  `fetch` job's download, BlobFetchErrorKind
 *
 * Every job ends with exactly one 'done' or 'error'.
 */
import { parentPort } from 'node:worker_threads';
import { LayerJob, LayerJobError, LayerJobErrorKind, LayerJobResult, LayerJobSpec } from './layer-job';
import { BlobFetchError, BlobFetchErrorKind, BlobFetchSpec, fetchIntoJob } from './layer-fetch';

/** Messages the pool sends. */
export type ToWorker =
  | { type: 'start'; id: number; spec: LayerJobSpec; fetch?: BlobFetchSpec }
  | { type: 'data'; id: number; buf: ArrayBuffer; length: number }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; reason: string };

/** Messages the worker sends. */
export type FromWorker =
  | { type: 'credit'; id: number; bytes: number; buf: ArrayBuffer }
  | { type: 'done'; id: number; result: LayerJobResult }
  | { type: 'progress'; id: number; fetched: number }
  | { type: 'error'; id: number; message: string; kind: LayerJobErrorKind | BlobFetchErrorKind; status?: number };

if (parentPort) {
  const port = parentPort;
  let job: { id: number; job: LayerJob; abort?: (reason: string) => void } | undefined;
  const send = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'start') {
      const id = m.id;
      const j = new LayerJob(m.spec);
      const cur: NonNullable<typeof job> = { id, job: j };
      job = cur;
      const done = m.fetch
        ? fetchIntoJob(m.fetch, j, (fetched) => send({ type: 'progress', id, fetched }), (abort) => (cur.abort = abort))
        : j.done;
      done.then(
        (result) => send({ type: 'done', id, result }),
        (err: LayerJobError | BlobFetchError) => send({ type: 'error', id, message: err.message, kind: err.kind, status: err instanceof BlobFetchError ? err.status : undefined }),
      );
      if (m.spec.sourceFile) void j.runFromFile();
      return;
    }
    if (!job || job.id !== m.id) return;
    if (m.type === 'data') {
      const { id, buf, length } = m;
      job.job.push(Buffer.from(buf, 0, length), () => send({ type: 'credit', id, bytes: length, buf }, [buf]));
    }
    else if (m.type === 'end') job.job.end();
    else if (m.type === 'abort') {
      if (job.abort) job.abort(m.reason);
      else job.job.abort(m.reason);
    }
  });
}
