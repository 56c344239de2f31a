/**
 * `peapod exec [-i] [-t] [-e NAME=VALUE] [-u USER] [-w DIR] CONTAINER
 * COMMAND [ARG...]`: runs a process in a running container (`runc exec`,
 * started by this process, so it has the caller's login UID) with our
 * stdio: stdin with -i, a terminal with -t (ours in raw mode, its size
 * followed). The exit code is the process's; 126/127 when it could not be
 * invoked or found, 255 when the container is not running (Podman's).
 */
import { Writable } from 'node:stream';
import type { TerminalSize } from '../../runtime-service/container/stdio';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { openEngine } from '../containers/domain';
import { invokeExitCode, invokeHint } from '../containers/exit-codes';
import { parseEnv, parseUser } from '../containers/flags';
import { mustFindContainer } from '../containers/lookup';
import { canRaw, enterRawTerminal } from '../containers/raw-terminal';

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

/** Runs `exec`. */
export async function run(ctx: CliContext, args: string[], o: ExecOptions): Promise<number> {
  const [ref, ...cmd] = args;
  const overrides = {
    env: parseEnv(o.env ?? []),
    user: o.user !== undefined ? parseUser(o.user) : undefined,
    workingDir: o.workdir,
  };
  const rec = mustFindContainer(ctx.containerStore(), ref);
  const engine = openEngine(ctx);
  const now = await engine.refresh(rec.id);
  if (now.state !== 'running') throw new CliError('can only create exec sessions on running containers: container state improper', EXIT_NOT_RUNNING);
  const tty = Boolean(o.tty);
  const abort = new AbortController();
  const stdin = o.interactive ? (ctx.io.stdin as NodeJS.ReadStream) : undefined;
  const terminal = tty && canRaw(stdin) ? enterRawTerminal(stdin) : undefined;
  const stderr = new ExecStderr(ctx.io.stderr);
  const out = ctx.io.stdout as NodeJS.WriteStream;
  try {
    await terminal?.ready;
    const code = await engine.exec(
      now.id,
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
