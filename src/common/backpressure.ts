/**
 * Copying with backpressure between the processes and sockets on the pod
 * side (a container's stdout, a port-forward relay's stdout) and the client
 * streams of the streaming layer (SPDY streams, WebSocket channels).
 *
 * Node's `Writable.write()` returns false once the destination buffers its
 * high-water mark; the source must then stop until 'drain'. For a child
 * process's pipe, stopping the readable stops reading the pipe, which fills
 * (64 KiB in the kernel), and the process blocks in write(2): a slow client
 * slows the container down instead of filling peapod's memory.
 */
import type { Readable, Writable } from 'node:stream';

/**
 * Copies everything `from` produces to `to` until `from` ends, pausing
 * `from` while `to` asks for it ('drain'). Never ends `to` (the streaming
 * layer does). Data for a missing, ended or destroyed `to` is read and
 * dropped, so the producer never blocks on a client that went away.
 * @param from the producer (a child process's stdout or stderr, a socket)
 * @param to the client stream, or undefined to discard
 * @returns resolves when `from` ends, errors or closes
 */
export function forwardOutput(from: Readable, to: Writable | undefined): Promise<void> {
  return new Promise<void>((done) => {
    let waiting = false;
    const resume = (): void => {
      if (!waiting) return;
      waiting = false;
      to?.off('drain', resume);
      to?.off('close', resume);
      to?.off('error', resume);
      from.resume();
    };
    from.on('data', (chunk: Buffer) => {
      if (!to || to.writableEnded || to.destroyed) return;
      if (to.write(chunk) || waiting) return;
      waiting = true;
      from.pause();
      to.once('drain', resume);
      to.once('close', resume);
      to.once('error', resume);
    });
    const finish = (): void => {
      resume();
      done();
    };
    from.once('end', finish);
    from.once('error', finish);
    from.once('close', finish);
  });
}

/**
 * Resolves once `to` can take more (its buffer is under the high-water mark),
 * or it is gone: for producers that are not streams (a log file read in
 * steps) to wait before their next write.
 */
export function writableReady(to: Writable | undefined): Promise<void> {
  if (!to || !to.writableNeedDrain || to.destroyed || to.writableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      to.off('drain', done);
      to.off('close', done);
      to.off('error', done);
      resolve();
    };
    to.on('drain', done);
    to.on('close', done);
    to.on('error', done);
  });
}
