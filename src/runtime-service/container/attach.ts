/**
 * Attaching to a running container (the CRI's Attach, a CLI's `attach`):
 * its output is followed in its log file from the current end (conmon
 * writes every byte the container prints there, streams apart), and stdin
 * goes to conmon's attach socket through socat (Node has no SOCK_SEQPACKET).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writableReady } from '../../common/backpressure';
import { spawnHostProcess } from '../../common/host/command';
import { sleep } from '../../common/time';
import { attachSocketPath } from '../../conmon/driver';
import type { ContainerDeps } from './deps';
import { runningContainer } from './exec';
import { applyExit } from './exits';
import { parseLogLine } from './logs';
import type { StdioStreams } from './stdio';

/** Most log bytes attach reads and sends at once (bytes); the next part waits for the client. */
const ATTACH_READ_BYTES = 256 * 1024;

/**
 * Joins a running container's output and stdin until it exits or the client
 * leaves (`io.signal`).
 * @throws NotFoundError; WrongStateError when the container is not running.
 */
export async function attachContainer(deps: ContainerDeps, id: string, io: StdioStreams): Promise<void> {
  const rec = await runningContainer(deps, id, 'attach');
  let stdinRelay: ReturnType<typeof spawnHostProcess> | undefined;
  if (io.stdin && rec.stdin) {
    // A relative address run from the socket's directory: the absolute path may exceed sun_path's 108 bytes.
    const socket = attachSocketPath(deps.dirs.sockets, rec.id);
    stdinRelay = spawnHostProcess('socat', ['-u', 'STDIN', `UNIX-CONNECT:${path.basename(socket)},type=5`], { cwd: path.dirname(socket), stdio: ['pipe', 'ignore', 'ignore'] });
    stdinRelay.stdin?.on('error', () => undefined);
    io.stdin.pipe(stdinRelay.stdin as NodeJS.WritableStream);
  }
  const logFile = rec.logPath || path.join(rec.bundle, 'console.log');
  let offset = 0;
  try {
    offset = fs.statSync(logFile).size;
  } catch {
    /* not yet written */
  }
  let pending = '';
  /** Sends the next part of the log (at most ATTACH_READ_BYTES); true when more is waiting. */
  const pump = (): boolean => {
    let fd: number;
    try {
      fd = fs.openSync(logFile, 'r');
    } catch {
      return false;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < offset) offset = 0; // rotated: a fresh file
      if (size === offset) return false;
      const buf = Buffer.alloc(Math.min(size - offset, ATTACH_READ_BYTES));
      fs.readSync(fd, buf, 0, buf.length, offset);
      // A part that is not the end of the log stops after its last whole line, so no character is cut in two.
      let n = buf.length;
      if (offset + n < size && buf.lastIndexOf(0x0a) >= 0) n = buf.lastIndexOf(0x0a) + 1;
      offset += n;
      pending += buf.toString('utf8', 0, n);
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        const r = parseLogLine(l);
        if (!r) continue;
        const text = r.tag === 'F' ? `${r.text}\n` : r.text;
        const to = io.tty || r.stream === 'stdout' ? io.stdout : io.stderr;
        to?.write(text);
      }
      return offset < size;
    } finally {
      fs.closeSync(fd);
    }
  };
  // Backpressure: the next part of the log is read only once the client took the last.
  const clientReady = async (): Promise<void> => {
    await writableReady(io.stdout);
    await writableReady(io.stderr);
  };
  try {
    while (!io.signal.aborted) {
      await clientReady();
      if (pump()) continue;
      const now = deps.store.find(rec.id);
      if (!now || now.state === 'exited') {
        await sleep(50);
        while (!io.signal.aborted && pump()) await clientReady();
        return;
      }
      await sleep(100);
      await applyExit(deps, rec.id).catch(() => undefined);
    }
  } finally {
    if (stdinRelay) {
      io.stdin?.unpipe(stdinRelay.stdin as NodeJS.WritableStream);
      stdinRelay.kill('SIGTERM');
    }
  }
}
