/**
 * The one way peapod starts a host program (runc, conmon, CNI plugins,
 * mount, umount, unshare, nsenter, socat, stty, script…): every child
 * process of the domain is made by `spawnHostProcess`, and
 * `runHostCommand` is the run-to-completion form built on it.
 *
 * How children are made: by the spawn server (spawner.ts, a small helper
 * process that forks for us) once a long-lived process has started it with
 * `startSpawnServer` (peapod-cri does); else, and for stdio the helper does
 * not offer, by Node's child_process, which forks this whole process on the
 * event loop (fine for a short CLI command, costly for a server).
 *
 * Programs are run without a shell; `file` is looked up in PATH.
 */
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { PeapodError } from '../errors';
import { DetachedRun, DetachedRunRequest, SPAWNER_BINARY, SpawnServer, SpawnStdio } from './spawner';

/**
 * A started host program: the part of Node's ChildProcess peapod uses,
 * which both Node's children and the spawn server's have. `pid` may be
 * undefined for a moment after the start (until the `spawn` event).
 */
export interface HostProcess {
  readonly pid?: number;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** fd 0, 1, 2, … as streams (null where not piped). */
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  kill(signal?: NodeJS.Signals | number): boolean;
  unref(): void;
  on(event: 'spawn', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'spawn', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

let spawnServer: SpawnServer | undefined;
/** Bumped by stopSpawnServer, so a restart in flight is dropped. */
let generation = 0;
/** The first start of the spawn server while it is under way (startSpawnServer); settles, never rejects. */
let firstStart: Promise<void> | undefined;

/**
 * How long `spawnServerStarted` waits, at most, for a spawn server being
 * started, in ms. Its helper is ready about a millisecond after its exec;
 * what delays the news is this process's own event loop (a CLI's
 * synchronous start: configuration, databases), which the wait yields to.
 */
const FIRST_START_WAIT_MS = 100;

/** What startSpawnServer reports besides its result. */
export interface SpawnServerEvents {
  /** The helper ended unexpectedly (it is restarted after a second). */
  onExit?(why: string): void;
}

/**
 * Starts the spawn server (spawner.ts) for this process, unless running:
 * from then on children are made by it. Without its binary (a build
 * without a C compiler) children stay with Node's child_process.
 * @param binary the helper (default: the one the build made)
 * @returns whether the spawn server is in use.
 */
export async function startSpawnServer(binary = SPAWNER_BINARY, events: SpawnServerEvents = {}): Promise<boolean> {
  if (spawnServer?.alive) return true;
  if (!fs.existsSync(binary)) return false;
  let quickDeaths = 0;
  const gen = generation;
  const launch = async (): Promise<void> => {
    const started = Date.now();
    const server = await SpawnServer.start(binary, (why) => {
      if (spawnServer === server) spawnServer = undefined;
      events.onExit?.(why);
      quickDeaths = Date.now() - started < 10_000 ? quickDeaths + 1 : 0;
      // A helper that keeps dying is given up: children go back to Node's spawn.
      if (quickDeaths > 3) return;
      const timer = setTimeout(() => {
        if (gen === generation) launch().catch((err: Error) => events.onExit?.(`restarting peapod-spawner failed: ${err.message}`));
      }, 1000);
      timer.unref();
    });
    if (gen !== generation) server.close();
    else spawnServer = server;
  };
  const launched = launch();
  if (!spawnServer && !firstStart) {
    firstStart = launched.then(
      () => undefined,
      () => undefined,
    );
    void firstStart.then(() => (firstStart = undefined));
  }
  await launched;
  return true;
}

/**
 * Resolves once a spawn server being started (startSpawnServer, e.g. in
 * the background as a CLI command begins) is ready or has failed, or after
 * FIRST_START_WAIT_MS; at once when none is being started. An async caller
 * about to start a host program awaits it, so the program is forked by the
 * small helper rather than by this whole process (a fork of Node, and a
 * wait on the event loop until the child's exec, for each program): its
 * readiness is a line on a pipe that only reaches us once the event loop
 * runs.
 */
export async function spawnServerStarted(): Promise<void> {
  const starting = firstStart;
  if (!starting || spawnServer?.alive) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([starting, new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_START_WAIT_MS)))]);
  clearTimeout(timer);
}

/** Ends the spawn server (its running children are not touched). */
export function stopSpawnServer(): void {
  generation++;
  spawnServer?.close();
  spawnServer = undefined;
}

/** Whether the spawn server runs, so spawnHostProcess hands it the programs whose stdio it takes ('pipe', 'ignore'). */
export function spawnServerRunning(): boolean {
  return spawnServer?.alive ?? false;
}

/** The pid of the spawn server's helper, when one runs (its memory is the server's too). */
export function spawnServerPid(): number | undefined {
  return spawnServer?.alive ? spawnServer.helperPid : undefined;
}

/** The stdio as the spawn server takes it, or undefined when it needs Node's spawn. */
function serverStdio(stdio: StdioOptions | undefined): SpawnStdio[] | undefined {
  if (stdio === undefined || stdio === 'pipe') return ['pipe', 'pipe', 'pipe'];
  if (stdio === 'ignore') return ['ignore', 'ignore', 'ignore'];
  if (!Array.isArray(stdio) || stdio.length < 3) return undefined;
  const out: SpawnStdio[] = [];
  for (const s of stdio) {
    if (s === 'pipe' || s === 'ignore') out.push(s);
    else return undefined;
  }
  return out;
}

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
export function spawnHostProcess(file: string, args: readonly string[], options: SpawnHostOptions = {}): HostProcess {
  const stdio = spawnServer?.alive ? serverStdio(options.stdio) : undefined;
  if (spawnServer && stdio) {
    return spawnServer.spawn({ file, args, stdio, env: options.env ?? process.env, cwd: options.cwd, detached: options.detached ?? false });
  }
  return nodeSpawn(file, args, options);
}

/** Whether the spawn server runs, so that runDetached is available (peapod-cri; not a CLI). */
export function canRunDetached(): boolean {
  return spawnServer?.alive ?? false;
}

/**
 * Starts a detached run through the spawn server (SpawnServer.runDetached:
 * its outputs forwarded by the helper, its pid file read there, the process
 * it leaves reaped there).
 * @throws Error without the spawn server (check canRunDetached())
 */
export function runDetached(r: Omit<DetachedRunRequest, 'env'> & { env?: NodeJS.ProcessEnv }): DetachedRun {
  if (!spawnServer?.alive) throw new Error('runDetached needs the spawn server');
  return spawnServer.runDetached({ ...r, env: r.env ?? process.env });
}

function nodeSpawn(file: string, args: readonly string[], options: SpawnHostOptions): ChildProcess {
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
export async function runHostCommand(file: string, args: readonly string[], options: RunHostCommandOptions = {}): Promise<string> {
  await spawnServerStarted();
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
