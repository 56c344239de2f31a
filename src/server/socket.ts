import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Mode of the CRI socket: owner and group may connect. */
export const SOCKET_MODE = 0o660;
/**
 * Mode of a socket directory peapod creates: the socket's group needs
 * search permission on it to connect, nothing more (no listing); others may
 * not connect anyway. The default socket lives in the runroot, which has
 * the same mode (runtime-service/state-dirs.ts RUNROOT_MODE). An existing
 * directory is left as it is: it may be a shared one such as /run.
 */
export const SOCKET_DIR_MODE = 0o710;

/** How long to wait for an existing socket to accept a connection, in ms. */
const PROBE_TIMEOUT_MS = 1000;

/** The socket path is served by a live process. */
export class SocketInUseError extends Error {
  constructor(readonly socketPath: string) {
    super(`another server is already listening on ${socketPath}; stop it first or choose another --socket`);
    this.name = 'SocketInUseError';
  }
}

/**
 * Tries to connect to a unix socket.
 * @returns 'live' when something accepts, 'stale' when the file is a socket
 *   nobody listens on (ECONNREFUSED), 'absent' when there is no file.
 */
export function probeSocket(socketPath: string): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      // A listener with a full backlog is still a listener.
      conn.destroy();
      resolve('live');
    }, PROBE_TIMEOUT_MS);
    conn.once('connect', () => {
      clearTimeout(timer);
      conn.destroy();
      resolve('live');
    });
    conn.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}

/**
 * Makes `socketPath` ready to bind: creates its directory (mode 0710) if
 * missing, refuses when a live server answers there, and removes a stale
 * socket file left by a process that died.
 * @throws SocketInUseError when a live server answers; Error when the path
 *   exists and is not a socket (peapod never deletes a regular file).
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: SOCKET_DIR_MODE });
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  const state = await probeSocket(socketPath);
  if (state === 'live') throw new SocketInUseError(socketPath);
  if (state === 'stale') fs.rmSync(socketPath, { force: true });
}
