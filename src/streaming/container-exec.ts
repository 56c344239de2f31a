/**
 * Exec's backend on peapod's containers: the command runs in the container
 * through the OCI runtime (`runc --root ROOT exec --process FILE ID`), with
 * the client's stdin, stdout and stderr as the runtime's own stdio (runc
 * hands its standard streams to the process when not detached, waits for it
 * and exits with its status; signals sent to runc are forwarded).
 *
 * What is not served yet, and refused before a URL is handed out:
 *  - a terminal (tty): `runc exec -t` passes the pty over a console socket
 *    with SCM_RIGHTS, which Node cannot receive; conmon's exec mode would
 *    need its SOCK_SEQPACKET attach socket, which Node cannot open either;
 *  - attach (joining the container's own stdio through conmon's attach
 *    socket), for the same reason: the Attach RPC stays UNIMPLEMENTED.
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

  /** @throws CriError UNIMPLEMENTED for a terminal (see the module comment). */
  checkStdio(req: { tty: boolean }): void {
    if (req.tty) throw new CriError(GrpcStatus.UNIMPLEMENTED, 'tty: exec with a terminal is not implemented by peapod yet');
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
    if (io.tty) throw new Error('exec with a terminal is not implemented by peapod yet');
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
    fs.writeFileSync(processFile, JSON.stringify({ ...(spec.process as object), args: cmd, terminal: false }));
    try {
      return await runAttached(runtime.runtime_path, ['--root', runtime.runtime_root, 'exec', '--process', processFile, rec.id], io);
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
