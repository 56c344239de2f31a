/**
 * Joining the caller's terminal or pipes to a container, as `podman run`,
 * `start -a` and `attach` do:
 * - output: the container's log followed byte-exactly (log-follow.ts), stdout
 *   records to our stdout, stderr records to our stderr (with a terminal the
 *   container has one stream);
 * - input (when asked for): our stdin relayed to conmon's attach socket
 *   through the domain's relay (conmon/attach-relay.ts: the socket is
 *   SOCK_SEQPACKET, which Node lacks); at EOF the relay ends its sending
 *   side and conmon closes the container's stdin; the output conmon also
 *   sends the relay is read and dropped (the log is the output's source), so
 *   conmon never waits on this client;
 * - with a terminal: our tty in raw mode (so Ctrl-C and Ctrl-D are bytes for
 *   the container's terminal), the window size sent to conmon's ctl FIFO at
 *   the start and on every SIGWINCH, and the detach keys (default ctrl-p,
 *   ctrl-q) ending the session while the container runs on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AttachRelay, openAttachRelay } from '../../conmon/attach-relay';
import { attachSocketPath, ctlFifoPath, exitFilePath } from '../../conmon/driver';
import type { LogChunk } from '../../runtime-service/container/log-reader';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { CliStreams } from '../context';
import { followLog } from './log-follow';
import { canRaw, enterRawTerminal } from './raw-terminal';

/** How a session joins. */
export interface AttachRequest {
  rec: ContainerRecord;
  /** conmon's exit and socket directories (ContainerDirs). */
  dirs: { exits: string; sockets: string };
  io: CliStreams;
  /** Relay our stdin to the container. */
  stdin: boolean;
  /** Where in the log output starts (bytes). */
  logOffset: number;
  /** The detach sequence (undefined: detaching is off). */
  detachKeys?: Buffer;
  /** Print the container's stdout; default true. */
  stdout?: boolean;
  /** Print the container's stderr; default true. */
  stderr?: boolean;
}

/** A running session. */
export interface AttachSession {
  /** Resolves once the terminal is set up (start the container after it, so its first output is shown as sent). */
  ready: Promise<void>;
  /** Resolves once the container exited and its output is written (`exited`), or the detach keys were typed (`detached`). */
  done: Promise<'exited' | 'detached'>;
  /** Ends the session early (output and input stop; the container runs on). */
  stop(): void;
}

/** The container's log file (conmon's `-l`). */
export function logFileOf(rec: ContainerRecord): string {
  return rec.logPath || path.join(rec.bundle, 'console.log');
}

/** Writes a buffer, waiting for 'drain' when the stream asks for it. */
function writeAll(to: NodeJS.WritableStream, buf: Buffer): void | Promise<void> {
  if (to.write(buf)) return;
  return new Promise((resolve) => to.once('drain', () => resolve()));
}

/**
 * Watches a byte stream for a key sequence: bytes that may start it are held
 * back until they turn out not to (then passed on), as Podman's detach keys.
 */
export class KeySequence {
  private held = 0;
  constructor(private readonly keys: Buffer) {}

  /** @returns the bytes to pass on, and whether the whole sequence was typed (what follows it is dropped). */
  feed(data: Buffer): { pass: Buffer; matched: boolean } {
    const out: number[] = [];
    for (const b of data) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { pass: Buffer.from(out), matched: true };
        continue;
      }
      // A mismatch: what was held goes through, then this byte may start the sequence anew.
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
      if (this.held === this.keys.length) return { pass: Buffer.from(out), matched: true };
    }
    return { pass: Buffer.from(out), matched: false };
  }
}

/** Sends the terminal size to conmon (ctl FIFO message type 1: height, width); ignored when no monitor listens. */
export function sendWindowSize(bundle: string, rows: number, columns: number): void {
  if (!(rows > 0 && columns > 0)) return;
  let fd: number;
  try {
    fd = fs.openSync(ctlFifoPath(bundle), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return;
  }
  try {
    fs.writeSync(fd, `1 ${rows} ${columns}\n`);
  } catch {
    /* the monitor went away */
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Starts a session (see the module doc). Call before starting the container
 * when its first output matters: input typed early waits in the relay, output
 * is read from `logOffset`.
 */
export function attachContainer(req: AttachRequest): AttachSession {
  const { rec, io } = req;
  const abort = new AbortController();
  const tty = rec.tty;
  let relay: AttachRelay['child'] | undefined;
  let resolveDetached: (() => void) | undefined;
  const detached = new Promise<'detached'>((r) => (resolveDetached = () => r('detached')));
  const cleanups: (() => void)[] = [];
  const ready: Promise<void>[] = [];

  if (req.stdin) {
    const attached = openAttachRelay(attachSocketPath(req.dirs.sockets, rec.id), true);
    relay = attached.child;
    attached.packets.on('error', () => undefined);
    attached.packets.resume();
    const to = relay.stdin!;
    to.on('error', () => undefined);
    const input = io.stdin as NodeJS.ReadStream;
    if (tty && canRaw(input)) {
      const terminal = enterRawTerminal(input);
      cleanups.push(terminal.restore);
      ready.push(terminal.ready);
    }
    const keys = req.detachKeys && tty ? new KeySequence(req.detachKeys) : undefined;
    const onData = (d: Buffer): void => {
      if (!keys) {
        to.write(d);
        return;
      }
      const { pass, matched } = keys.feed(d);
      if (pass.length) to.write(pass);
      if (matched) resolveDetached?.();
    };
    const onEnd = (): void => {
      to.end();
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
    cleanups.push(() => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    });
  }

  if (tty) {
    const out = io.stdout as NodeJS.WriteStream;
    if (out.isTTY) {
      const resize = (): void => sendWindowSize(rec.bundle, out.rows, out.columns);
      resize();
      out.on('resize', resize);
      cleanups.push(() => out.off('resize', resize));
    }
  }

  const write = (c: LogChunk): void | Promise<void> => {
    const bytes = c.partial ? c.content : Buffer.concat([c.content, Buffer.from('\n')]);
    if (tty || c.stream === 'stdout') return req.stdout === false ? undefined : writeAll(io.stdout, bytes);
    return req.stderr === false ? undefined : writeAll(io.stderr, bytes);
  };
  const output = followLog({ file: logFileOf(rec), offset: req.logOffset, exitFile: exitFilePath(req.dirs.exits, rec.id), write, signal: abort.signal }).then(() => 'exited' as const);

  const stop = (): void => {
    abort.abort();
    for (const c of cleanups.splice(0)) c();
    if (relay && relay.exitCode === null) relay.kill('SIGTERM');
  };
  const done = Promise.race([output, detached]).then((how) => {
    if (how === 'detached') abort.abort();
    stop();
    return how;
  });
  return { ready: Promise.all(ready).then(() => undefined), done, stop };
}
