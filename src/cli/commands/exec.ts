/**
 * `peapod exec [-i] [-t] [-e NAME=VALUE] [-u USER] [-w DIR] CONTAINER
 * COMMAND [ARG...]`: runs a process in a running container (`runc exec`,
 * started by this process, so it has the caller's login UID) with our
 * stdio: stdin with -i, a terminal with -t (ours in raw mode, its size
 * followed). The exit code is the process's; 126/127 when it could not be
 * invoked or found, 255 when the container is not running (Podman's).
 *
 * A running container with no exit file is exec'd into from its record as
 * read (the domain's exec-stream.ts, its runtime by runtime-handler.ts):
 * neither the container engine nor a lock is taken, so nothing is written to
 * the state database. Only a container whose exit conmon has written goes
 * through the engine, which records the exit (then 255).
 */
import { Writable } from 'node:stream';
import { containerDirs } from '../../runtime-service/container/paths';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { TerminalSize } from '../../runtime-service/container/stdio';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { invokeExitCode, invokeHint } from '../containers/exit-codes';
import { parseEnv, parseUser } from '../containers/flags';
import { mustFindContainer } from '../containers/lookup';

/** Flags of `exec`. */
export interface ExecOptions {
  env?: string[];
  interactive?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

/** Podman's exit code for an exec in a container that is not running. */
const EXIT_NOT_RUNNING = 255;

/**
 * The process's stderr on its way to ours: a runc failure to start the
 * process (`time=… level=error msg="exec failed: …"`) becomes Podman's
 * `Error: runc: exec failed: …` line, remembered for the exit code.
 */
class ExecStderr extends Writable {
  failure: string | undefined;
  private line = '';
  constructor(private readonly to: NodeJS.WritableStream) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    // Only a runc log line is rewritten; anything else passes unchanged, byte for byte.
    if (this.line === '' && !chunk.subarray(0, 6).toString('latin1').startsWith('time="')) {
      if (this.to.write(chunk)) done();
      else this.to.once('drain', () => done());
      return;
    }
    this.line += chunk.toString('utf8');
    const m = /level=error msg="((?:[^"\\]|\\.)*)"/.exec(this.line);
    if (!m && !this.line.includes('\n')) return done();
    if (m && /exec failed/.test(m[1])) {
      this.failure = JSON.parse(`"${m[1]}"`) as string;
      this.to.write(`Error: runc: ${this.failure}${invokeHint(invokeExitCode(this.failure))}\n`);
    } else this.to.write(this.line);
    this.line = '';
    done();
  }
}

/** Our terminal's size changes, as the exec code wants them. */
async function* sizes(out: NodeJS.WriteStream, signal: AbortSignal): AsyncIterable<TerminalSize> {
  yield { width: out.columns, height: out.rows };
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('resize', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      out.on('resize', done);
      signal.addEventListener('abort', done);
    });
    if (!signal.aborted) yield { width: out.columns, height: out.rows };
  }
}

/**
 * The container's record when it is running: as read when it says running
 * and conmon has written no exit file for it (no write, no lock); else as
 * the engine refreshes it (recording the exit).
 * @throws CliError (255) when it is not running.
 */
async function runningRecord(ctx: CliContext, rec: ContainerRecord): Promise<ContainerRecord> {
  const { exitRecorded } = require('../../runtime-service/container/exits') as typeof import('../../runtime-service/container/exits');
  const now = rec.state === 'running' && !exitRecorded({ dirs: containerDirs(ctx.config.root, ctx.config.runroot) }, rec) ? rec : await ctx.containerEngine().refresh(rec.id);
  if (now.state !== 'running') throw new CliError('can only create exec sessions on running containers: container state improper', EXIT_NOT_RUNNING);
  return now;
}

/** Runs `exec`. */
export async function run(ctx: CliContext, args: string[], o: ExecOptions): Promise<number> {
  const [ref, ...cmd] = args;
  const overrides = {
    env: parseEnv(o.env ?? []),
    user: o.user !== undefined ? parseUser(o.user) : undefined,
    workingDir: o.workdir,
  };
  const now = await runningRecord(ctx, mustFindContainer(ctx.containerStore(), ref));
  const tty = Boolean(o.tty);
  const abort = new AbortController();
  const stdin = o.interactive ? (ctx.io.stdin as NodeJS.ReadStream) : undefined;
  // Lazy: only a terminal needs it (it loads the host-command code at its own start).
  const raw = tty ? (require('../containers/raw-terminal') as typeof import('../containers/raw-terminal')) : undefined;
  const terminal = raw?.canRaw(stdin) ? raw.enterRawTerminal(stdin) : undefined;
  const config = ctx.config.runtime;
  const { runtimeOfHandler } = require('../../runtime-service/container/runtime-handler') as typeof import('../../runtime-service/container/runtime-handler');
  const runtime = runtimeOfHandler(config.runtimes, config.default_runtime, now.runtimeHandler);
  const { execWithStdio } = require('../../runtime-service/container/exec-stream') as typeof import('../../runtime-service/container/exec-stream');
  const stderr = new ExecStderr(ctx.io.stderr);
  const out = ctx.io.stdout as NodeJS.WriteStream;
  try {
    await terminal?.ready;
    const code = await execWithStdio(
      runtime,
      now,
      cmd,
      {
        stdin: stdin as import('node:stream').Readable | undefined,
        stdout: ctx.io.stdout as unknown as Writable,
        stderr: tty ? undefined : stderr,
        tty,
        resize: tty && out.isTTY ? sizes(out, abort.signal) : undefined,
        initialSize: tty && out.isTTY ? { width: out.columns, height: out.rows } : undefined,
        signal: abort.signal,
      },
      overrides,
    );
    if (stderr.failure) return invokeExitCode(stderr.failure);
    return code;
  } finally {
    abort.abort();
    terminal?.restore();
    stdin?.pause();
  }
}
