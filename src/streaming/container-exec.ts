/**
 * Exec's backend on peapod's containers: the command runs in the container
 * through the OCI runtime (`runc --root ROOT exec --process FILE ID`), with
 * the client's stdin, stdout and stderr as the runtime's own stdio (runc
 * hands its standard streams to the process when not detached, waits for it
 * and exits with its status; signals sent to runc are forwarded).
 *
 * With a terminal (tty), runc (not detached) gives the process a terminal
 * and relays it to its own stdio, copying its own terminal's size on
 * SIGWINCH. Node can neither give a child a terminal nor resize one, so a
 * small Python helper (helpers/console-relay.py, python3 from Debian) runs
 * runc on a pseudo-terminal it relays, resizing it on "HEIGHT WIDTH" lines
 * of its fd 3. Without python3 a tty exec is refused as UNIMPLEMENTED before
 * a URL is handed out.
 *
 * Not served yet: attach (joining the container's own stdio through
 * conmon's SOCK_SEQPACKET attach socket, which Node cannot open): the Attach
 * RPC stays UNIMPLEMENTED.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ContainerEngine } from '../runtime-service/container/engine';
import type { PeapodConfig } from '../server/config';
import { CriError, failedPrecondition, notFound } from '../server/errors';
import type { RemoteCommandBackend, StdioStreams } from './backend';

/** The console relay helper (a source file, not compiled: resolved from dist/src/streaming or src/streaming). */
export const CONSOLE_RELAY = path.resolve(__dirname, '..', '..', '..', 'src', 'streaming', 'helpers', 'console-relay.py');
/** The Python interpreter that runs it. */
const PYTHON = '/usr/bin/python3';

/** Milliseconds between forwarding SIGTERM to the process (client gone) and SIGKILL of the runtime. */
const KILL_GRACE_MS = 2000;

export class ContainerExecBackend implements RemoteCommandBackend {
  /**
   * @param engine the container engine (records, bundles)
   * @param config the runtime handlers (`runtime.runtimes`), for the runtime binary and root
   */
  constructor(
    private readonly engine: ContainerEngine,
    private readonly config: PeapodConfig,
  ) {}

  /** @throws CriError UNIMPLEMENTED for a terminal when python3 or the relay helper is missing. */
  checkStdio(req: { tty: boolean }): void {
    if (req.tty && !(fs.existsSync(PYTHON) && fs.existsSync(CONSOLE_RELAY))) {
      throw new CriError(GrpcStatus.UNIMPLEMENTED, `tty: exec with a terminal needs ${PYTHON} and ${CONSOLE_RELAY}`);
    }
  }

  /** @throws CriError NOT_FOUND for an unknown container, FAILED_PRECONDITION when not running. */
  async checkContainer(containerId: string): Promise<void> {
    if (!this.engine.find(containerId)) throw notFound(`container "${containerId}" not found`);
    const rec = await this.engine.refresh(containerId);
    if (rec.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${rec.id} is ${rec.state}, not running`);
  }

  /**
   * Runs `cmd` in the container with the container's process settings (user,
   * env, cwd, capabilities) and the client's stdio.
   * @returns the exit code as the runtime reports it (128+N for signal N).
   */
  async exec(containerId: string, cmd: string[], io: StdioStreams): Promise<number> {
    const rec = await this.engine.refresh(containerId);
    if (rec.state !== 'CONTAINER_RUNNING') throw new Error(`container ${rec.id} is ${rec.state}, not running`);
    const spec = this.engine.spec(rec.id);
    if (!spec) throw new Error(`container ${rec.id} has no bundle`);
    const handler = rec.runtimeHandler || this.config.runtime.default_runtime;
    const runtime = this.config.runtime.runtimes[handler];
    if (!runtime) throw new Error(`runtime handler "${handler}" is not configured`);
    const workDir = path.join(rec.bundle, `stream-exec-${randomBytes(8).toString('hex')}`);
    fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
    const processFile = path.join(workDir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ ...(spec.process as object), args: cmd, terminal: io.tty }));
    const base = ['--root', runtime.runtime_root, 'exec'];
    try {
      if (!io.tty) return await runAttached(runtime.runtime_path, [...base, '--process', processFile, rec.id], io);
      return await runWithTerminal(runtime.runtime_path, base, processFile, rec.id, io);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
}

/**
 * Spawns the runtime with pipes for stdio, copies the client's streams to
 * and from them, and resolves with its exit status once it exited and its
 * output was copied. When the client goes away the process gets SIGTERM
 * (runc forwards it), and the runtime SIGKILL after a grace period.
 */
function runAttached(file: string, args: string[], io: StdioStreams): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', (err) => reject(new Error(`cannot run ${file}: ${err.message}`)));
    child.stdin.on('error', () => undefined);
    if (io.stdin) io.stdin.pipe(child.stdin);
    else child.stdin.end();
    const copied = [copy(child.stdout, io.stdout), copy(child.stderr, io.stderr)];
    const onAbort = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    child.on('close', (code, signal) => {
      io.signal.removeEventListener('abort', onAbort);
      io.stdin?.unpipe(child.stdin);
      void Promise.all(copied).then(() => resolve(code ?? 128 + signalNumber(signal)));
    });
  });
}

/**
 * Runs `runtime exec -t` (not detached: runc relays the process's terminal
 * to its own stdio and follows its own terminal's size) on a terminal made
 * by the console relay helper: the client's stdin goes to the terminal, the
 * terminal to the client's stdout, resizes to the relay's fd 3. Resolves
 * with the exit status once the output is copied.
 */
function runWithTerminal(runtime: string, base: string[], processFile: string, id: string, io: StdioStreams): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const relay = spawn(PYTHON, [CONSOLE_RELAY, runtime, ...base, '-t', '--process', processFile, id], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    const ctl = relay.stdio[3] as NodeJS.WritableStream;
    let relayErr = '';
    relay.stderr.on('data', (d: Buffer) => {
      if (relayErr.length < 4096) relayErr += d.toString();
    });
    relay.on('error', (err) => reject(new Error(`cannot run ${PYTHON}: ${err.message}`)));
    relay.stdin.on('error', () => undefined);
    (ctl as unknown as NodeJS.EventEmitter).on('error', () => undefined);
    const output = copy(relay.stdout, io.stdout);
    if (io.stdin) io.stdin.pipe(relay.stdin);
    if (io.resize) {
      const resize = io.resize;
      void (async () => {
        for await (const size of resize) ctl.write(`${size.height} ${size.width}\n`);
      })();
    }
    const onAbort = (): void => {
      if (relay.exitCode === null && relay.signalCode === null) relay.kill('SIGHUP');
      setTimeout(() => relay.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    relay.on('close', (code, signal) => {
      io.signal.removeEventListener('abort', onAbort);
      io.stdin?.unpipe(relay.stdin);
      void output.then(() => {
        const runtimeFailed = /level=error msg="([^"]*)"/.exec(relayErr);
        if (runtimeFailed) reject(new Error(runtimeFailed[1]));
        else resolve(code ?? 128 + signalNumber(signal));
      });
    });
  });
}

/** Copies a pipe to the client's stream (or discards it) until the pipe ends. */
function copy(from: NodeJS.ReadableStream, to: NodeJS.WritableStream | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    from.on('data', (d: Buffer) => {
      if (to && !(to as { writableEnded?: boolean }).writableEnded) to.write(d);
    });
    from.on('end', () => resolve());
    from.on('error', () => resolve());
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const n = signal ? os.constants.signals[signal] : undefined;
  return n ?? 9;
}
