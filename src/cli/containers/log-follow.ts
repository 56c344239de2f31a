/**
 * Following a container's log as it grows (`run`, `start -a`, `attach`,
 * `logs -f`): the records conmon appends are read byte-exactly
 * (runtime-service/container/log-reader.ts) and handed on as they come,
 * woken by inotify on the log file and on conmon's exit directory (with a
 * slow poll as a safety net), until the container has exited and the rest of
 * the log is read. conmon writes the exit file only after it drained the
 * container's output into the log, so nothing printed is missed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LogChunk, readLogFrom } from '../../runtime-service/container/log-reader';

/** How often the log is looked at when no file event came (ms): only a safety net. */
const POLL_MS = 250;

/** What to follow. */
export interface FollowOptions {
  /** The container's log file. */
  file: string;
  /** Byte offset to start at. */
  offset: number;
  /** conmon's exit file of the container: following ends once it exists and the log is read to its end. */
  exitFile: string;
  /** Called per record, in order; a returned promise is awaited (backpressure). */
  write(chunk: LogChunk): void | Promise<void>;
  /** Ends the follow early (the caller detached). */
  signal?: AbortSignal;
}

/**
 * Follows the log (see the module doc).
 * @returns the offset after the last record handed on.
 */
export async function followLog(o: FollowOptions): Promise<number> {
  let offset = o.offset;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const watchers: fs.FSWatcher[] = [];
  const watch = (p: string, filter?: string): void => {
    try {
      const w = fs.watch(p, (_e, name) => {
        if (!filter || String(name) === filter) poke();
      });
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      /* not there (yet): the poll covers it */
    }
  };
  watch(o.file);
  watch(path.dirname(o.exitFile), path.basename(o.exitFile));
  o.signal?.addEventListener('abort', poke);
  try {
    for (;;) {
      if (o.signal?.aborted) return offset;
      const exited = fs.existsSync(o.exitFile);
      const got = readLogFrom(o.file, offset);
      offset = got.offset;
      for (const c of got.chunks) {
        const p = o.write(c);
        if (p) await p;
        if (o.signal?.aborted) return offset;
      }
      if (got.chunks.length > 0) continue;
      // Nothing was awaited since the read (it is synchronous), so no file event can have been missed: wait for the next.
      // The exit file is written after conmon drained the output: a read after seeing it is the last.
      if (exited) return offset;
      await new Promise<void>((resolve) => {
        wake = resolve;
        const t = setTimeout(poke, POLL_MS);
        const done = wake;
        wake = () => {
          clearTimeout(t);
          done();
        };
      });
    }
  } finally {
    o.signal?.removeEventListener('abort', poke);
    for (const w of watchers) w.close();
  }
}

/** The current size of a log file (where following "from now" starts); 0 when absent. */
export function logEnd(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
