/**
 * Starting a runc container through its exec FIFO, in this process, as
 * `runc start` does it (opencontainers/runc libcontainer/container_linux.go,
 * `exec`, `handleFifoResult`; runc 1.0 to 1.2).
 *
 * `runc create` leaves the container's init (`runc init`) blocked opening
 * `<root>/<id>/exec.fifo` for writing. `runc start` opens the FIFO for
 * reading, which lets init write one byte and exec the user's process
 * (the FIFO is close-on-exec: end of file), checks that a byte came, and
 * removes the FIFO; runc calls a container whose FIFO is gone `running`.
 * `runc start` is a Go program of its own: 8.9 ms of a quiet
 * CreateContainer + StartContainer (`--tool-timing`), for an open, a read
 * and an unlink.
 *
 * Only for runc's state directory (a `state.json` beside the FIFO: crun
 * keeps a `status` file and runs poststart hooks in its start) and for
 * specs without hooks (peapod's specs carry none: runc 1.2 runs poststart
 * hooks in `start`). Anything else is left to the runtime's own `start`.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';

/** fs.open with a plain fd (a FileHandle would close it again when collected). */
const openFd = promisify(fs.open);

/** How often the init process is checked while the FIFO has no writer, in ms (runc: 100). */
const INIT_CHECK_MS = 100;

/** The FIFO runc's init waits on. */
export function execFifoPath(runtimeRoot: string, id: string): string {
  return path.join(runtimeRoot, id, 'exec.fifo');
}

/** Whether `<root>/<id>` is runc's state directory with the FIFO of a created container. */
async function isRuncCreated(runtimeRoot: string, id: string): Promise<boolean> {
  const dir = path.join(runtimeRoot, id);
  try {
    const [state, fifo] = await Promise.all([fs.promises.stat(path.join(dir, 'state.json')), fs.promises.lstat(path.join(dir, 'exec.fifo'))]);
    return state.isFile() && fifo.isFIFO();
  } catch {
    return false;
  }
}

/** Whether `pid` is a live process (not gone, not a zombie). */
function initAlive(pid: number): boolean {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Reads the exec FIFO until its end: resolves with the bytes read. While no
 * writer has come, init `initPid` is checked every INIT_CHECK_MS: once it
 * is gone, whatever the FIFO holds is answered (an init that wrote and
 * ended in between), so the read never waits on a dead container.
 */
function drainFifo(fd: number, initPid: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // A FIFO opened O_NONBLOCK is a pipe to libuv: read through epoll, never on a pool thread.
    const pipe = new net.Socket({ fd, readable: true, writable: false });
    let bytes = 0;
    let gotData = false;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(check);
      clearTimeout(deadline);
      pipe.destroy();
      if (err) reject(err);
      else resolve(bytes);
    };
    const check = setInterval(() => {
      if (!gotData && !initAlive(initPid)) finish();
    }, INIT_CHECK_MS);
    const deadline = setTimeout(() => finish(new Error(`the container's init did not open its exec FIFO within ${timeoutMs / 1000}s`)), timeoutMs);
    pipe.on('data', (d: Buffer) => {
      gotData = true;
      bytes += d.length;
    });
    pipe.on('end', () => finish());
    pipe.on('error', (err) => finish(err));
  });
}

/**
 * Starts created container `id` of runc state directory `runtimeRoot`
 * through its exec FIFO (see the module doc), if it is one.
 * @param initPid the container's init process (state `created`)
 * @param timeoutMs how long the init may take to come to the FIFO
 * @returns false when this is not runc's created container (nothing was
 *   done: use the runtime's `start`); true once the user's process runs.
 * @throws Error, with runc's words, when the init is gone (`container
 *   process is already dead`) or wrote nothing (`cannot start an already
 *   running container`), or the FIFO cannot be read.
 */
export async function startThroughExecFifo(runtimeRoot: string, id: string, initPid: number, timeoutMs = 60_000): Promise<boolean> {
  if (!(await isRuncCreated(runtimeRoot, id))) return false;
  const fifo = execFifoPath(runtimeRoot, id);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading then never waits for a writer (libuv adds O_CLOEXEC).
    fd = await openFd(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    // Started meanwhile by someone else: the FIFO went between the check and the open.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('cannot start an already running container');
    throw err;
  }
  const bytes = await drainFifo(fd, initPid, timeoutMs);
  if (bytes === 0) throw new Error(initAlive(initPid) ? 'cannot start an already running container' : 'container process is already dead');
  // Gone FIFO = running, for runc's own `state`, `exec`, `kill`.
  await fs.promises.rm(fifo, { force: true });
  return true;
}
