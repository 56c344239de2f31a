/**
 * The one way peapod starts a host program (runc, conmon, CNI plugins,
 * mount, umount, unshare, nsenter, socat, stty, script…): every child
 * process of the domain is made by `spawnHostProcess`, and
 * `runHostCommand` is the run-to-completion form built on it. A later
 * change can then replace how children are made (e.g. a small long-lived
 * spawner process, so the server does not fork its whole heap per child)
 * in this file alone.
 *
 * Programs are run without a shell; `file` is looked up in PATH.
 */
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import { PeapodError } from '../errors';

/** A host tool failed: its command line, stderr and exit status. */
export class HostCommandError extends PeapodError {
  constructor(
    /** The command line, space-joined. */
    readonly command: string,
    /** What it wrote to stderr (or why it could not run). */
    readonly stderr: string,
    /** Its exit code; null when killed or not started. */
    readonly exitCode: number | null,
    /** What it wrote to stdout (bounded like stderr). */
    readonly stdout = '',
  ) {
    super('INTERNAL', `${command} failed${exitCode !== null ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || 'no output'}`);
    this.name = 'HostCommandError';
  }
}

/** How a child is started. */
export interface SpawnHostOptions {
  /**
   * The child's file descriptors, as node:child_process takes them: index 0
   * to 2 are stdin, stdout, stderr; further entries become fds 3, 4, …
   * (conmon's sync and start pipes). Default: all three piped.
   */
  stdio?: StdioOptions;
  /** The environment; default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Working directory. */
  cwd?: string;
  /** Start it in its own session and process group (it may outlive peapod). */
  detached?: boolean;
}

/**
 * Starts a host program. Every child process of peapod's domain goes
 * through here (see the module doc).
 * @param file the program (looked up in PATH)
 * @param args its arguments
 * @returns the child; a failure to start is reported by its `error` event.
 */
export function spawnHostProcess(file: string, args: readonly string[], options: SpawnHostOptions = {}): ChildProcess {
  return spawn(file, [...args], {
    stdio: options.stdio ?? ['pipe', 'pipe', 'pipe'],
    env: options.env,
    cwd: options.cwd,
    detached: options.detached ?? false,
  });
}

/** How a command is run to completion. */
export interface RunHostCommandOptions {
  /** Kill it (SIGTERM) after this many ms; default 30 s. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Uint8Array;
  /** Bytes of stdout kept (the rest is dropped); default 4 MiB. */
  maxOutputBytes?: number;
}

/** How long a host tool may run by default, in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Bytes of stdout and of stderr kept by default. */
export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * Runs a host program to its exit and returns its stdout.
 * @param file the program (looked up in PATH)
 * @param args its arguments
 * @throws HostCommandError carrying stderr, stdout and the exit code when it
 *   exits non-zero, is killed (timeout) or cannot be started.
 */
export function runHostCommand(file: string, args: readonly string[], options: RunHostCommandOptions = {}): Promise<string> {
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawnHostProcess(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const keep = (chunks: Buffer[], size: number, d: Buffer): number => {
      if (size < max) chunks.push(d.subarray(0, max - size));
      return size + d.length;
    };
    child.stdout?.on('data', (d: Buffer) => (outBytes = keep(out, outBytes, d)));
    child.stderr?.on('data', (d: Buffer) => (errBytes = keep(err, errBytes, d)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new HostCommandError(command, e.message, null));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve(stdout);
      const why = timedOut ? `timed out after ${options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS} ms` : signal ? `killed by ${signal}` : '';
      reject(new HostCommandError(command, stderr || why || `exit code ${code}`, code, stdout));
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
  });
}
