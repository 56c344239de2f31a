/**
 * The spawn server: host programs started by a small long-lived helper
 * process, `peapod-spawner` (native/spawner.c, built into dist/native/),
 * instead of by Node's child_process.
 *
 * Why: on Linux, libuv's spawn forks the whole Node process on the event
 * loop and waits there until the child has exec'd. The fork copies the page
 * tables of the server's whole heap and the exec tears that copy down again,
 * so every runc, conmon, CNI plugin or mount call stalled every other RPC for
 * a time that grew with the server's memory (5 ms at 44 MiB RSS, 36 ms at
 * 194 MiB, measured in the bench profiles). The helper is a few hundred KiB:
 * its forks cost microseconds, and here a spawn costs only a request written
 * to a pipe and one unix-socket connection per piped fd.
 *
 * How a child's pipes reach us without passing file descriptors (which Node
 * cannot receive): for each piped fd this process connects to the helper's
 * listening socket (an abstract unix socket, accepted only from this pid)
 * and writes 8 bytes naming the request and fd index; the helper makes the
 * accepted socket that fd of the child. So the child gets a stream socket,
 * as from libuv's socketpair, and this side holds an ordinary net.Socket from
 * the first moment.
 *
 * The child starts as libuv would start it: signals at their defaults and
 * unblocked, only the asked-for fds open, `file` searched in the PATH of its
 * environment, a new session when detached. Its exit is reported by the
 * helper, which is its parent and reaps it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where the build puts the helper: `dist/native/peapod-spawner`. */
export const SPAWNER_BINARY = path.resolve(__dirname, '..', '..', '..', 'native', 'peapod-spawner');

/** How one fd of a child is set up: a pipe to this process, or /dev/null. */
export type SpawnStdio = 'pipe' | 'ignore';

/** A request to the spawn server. */
export interface SpawnRequest {
  file: string;
  args: readonly string[];
  /** fd 0, 1, 2, … of the child (at least three, at most 16). */
  stdio: readonly SpawnStdio[];
  /**
   * The child's whole environment. process.env itself is read once, when
   * the spawn server starts (SpawnServer.ownEnvironment): peapod never
   * changes its own environment after that.
   */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** A new session and process group (setsid). */
  detached: boolean;
}

/** How a process ended: an exit code, or the signal that killed it; both null when unknown. */
export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A detached run (SpawnServer.runDetached): a child such as `runc exec
 * --detach` that starts a process, writes its pid to `pidFile` and exits.
 * The helper gives the child /dev/null as stdin and pipes as stdout and
 * stderr that it reads itself and forwards on its one event channel (no
 * connection per pipe); it reads and removes the pid file once the child
 * has exited 0, reaps the process it names (it is a child subreaper), and
 * then ends the outputs: whatever was written is delivered, and a process
 * left in the background that still holds the pipes gets EPIPE.
 */
export interface DetachedRunRequest {
  file: string;
  args: readonly string[];
  /** The child's whole environment (process.env: the copy encoded when the spawn server started). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the child writes the pid of the process it starts (runc's --pid-file). */
  pidFile: string;
  /** Bytes delivered of each output at most; the helper reads and drops the rest. */
  maxOutputBytes: number;
  /** Each piece of output as it comes; `data` is valid during the call only (copy what is kept). */
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
  /** The pid of the process the child started, once the pid file has named it. */
  onLeft?(pid: number): void;
}

/** How a detached run ended: the child's end, and the left process's (null when it left none). */
export interface DetachedRunEnd {
  child: ProcessEnd;
  left: ProcessEnd | null;
}

/** A detached run in progress (SpawnServer.runDetached). */
export class DetachedRun {
  /** The child's pid, once started. */
  childPid: number | undefined;
  /** The left process's pid, once the pid file has named it. */
  leftPid: number | undefined;
  /**
   * Resolves when the outputs have ended; rejects with the spawn error
   * (`code` ENOENT…, `syscall` "spawn FILE") when the child could not be
   * started, or with code ESPAWNER when the helper died first.
   */
  readonly ended: Promise<DetachedRunEnd>;
  private pendingSignal: NodeJS.Signals | undefined;
  private done = false;
  /** @internal */
  settle!: { resolve: (end: DetachedRunEnd) => void; reject: (err: Error) => void };

  /** @internal made by SpawnServer.runDetached */
  constructor(readonly request: DetachedRunRequest) {
    this.ended = new Promise((resolve, reject) => {
      this.settle = {
        resolve: (end) => {
          this.done = true;
          resolve(end);
        },
        reject: (err) => {
          this.done = true;
          reject(err);
        },
      };
    });
  }

  /**
   * Sends `signal` to the child (sent as soon as it has started if it has
   * not yet). The left process is the caller's to signal (leftPid).
   * @returns false once the run has ended or the signal could not be sent.
   */
  killChild(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    if (this.done) return false;
    if (this.childPid === undefined) {
      this.pendingSignal = signal;
      return true;
    }
    try {
      process.kill(this.childPid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** @internal the helper started the child */
  started(pid: number): void {
    this.childPid = pid;
    if (this.pendingSignal) this.killChild(this.pendingSignal);
  }
}

/** The most fds a child can be given. */
const MAX_FDS = 16;
function str(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  const n = Buffer.allocUnsafe(4);
  n.writeUInt32LE(b.length);
  parts.push(n, b);
}

function u32(parts: Buffer[], v: number): void {
  const n = Buffer.allocUnsafe(4);
  n.writeUInt32LE(v);
  parts.push(n);
}

/** Request kinds of native/spawner.c. */
const KIND_SPAWN = 1;
const KIND_DETACHED_RUN = 3;

/** A frame: u32 length, u32 kind, the body. */
function frame(kind: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32LE(body.length + 4, 0);
  out.writeUInt32LE(kind, 4);
  body.copy(out, 8);
  return out;
}

/**
 * An environment as the spawn request carries it: the count, then each
 * `NAME=value`. Encoding process.env costs about 0.4 ms (each read of it
 * goes through the C library's environment), hence SpawnServer's copy.
 */
export function encodeEnvironment(env: NodeJS.ProcessEnv): Buffer {
  const entries = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined);
  const parts: Buffer[] = [];
  u32(parts, entries.length);
  for (const [k, v] of entries) str(parts, `${k}=${v}`);
  return Buffer.concat(parts);
}

/**
 * The binary spawn request frame of native/spawner.c (see its header).
 * @param encodedEnv `r.env` already encoded (encodeEnvironment), used in its place
 */
export function encodeSpawnRequest(id: number, r: SpawnRequest, encodedEnv?: Buffer): Buffer {
  const parts: Buffer[] = [];
  u32(parts, id);
  u32(parts, r.detached ? 1 : 0);
  u32(parts, r.stdio.length);
  parts.push(Buffer.from(r.stdio.map((k) => (k === 'pipe' ? 'p' : 'n')).join(''), 'latin1'));
  pushCommand(parts, r, encodedEnv);
  return frame(KIND_SPAWN, parts);
}

/** The command part both request kinds share: cwd, file, argv (argv[0] the file) and the environment. */
function pushCommand(parts: Buffer[], r: { cwd?: string; file: string; args: readonly string[]; env: NodeJS.ProcessEnv }, encodedEnv?: Buffer): void {
  str(parts, r.cwd ?? '');
  str(parts, r.file);
  u32(parts, r.args.length + 1);
  str(parts, r.file);
  for (const a of r.args) str(parts, a);
  parts.push(encodedEnv ?? encodeEnvironment(r.env));
}

/**
 * The binary detached-run request frame of native/spawner.c (kind 3, see its header).
 * @param encodedEnv `r.env` already encoded (encodeEnvironment), used in its place
 */
export function encodeDetachedRunRequest(id: number, r: Omit<DetachedRunRequest, 'onOutput' | 'onLeft'>, encodedEnv?: Buffer): Buffer {
  const parts: Buffer[] = [];
  u32(parts, id);
  u32(parts, Math.max(0, Math.min(0xffff_ffff, Math.floor(r.maxOutputBytes))));
  str(parts, r.pidFile);
  pushCommand(parts, r, encodedEnv);
  return frame(KIND_DETACHED_RUN, parts);
}

/** The signal name of a signal number, as Node reports it in `exit` events. */
function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(os.constants.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

/** An errno number as Node's error code (`ENOENT`), and its negative value as in libuv. */
function errnoCode(errno: number): { code: string; uv: number } {
  for (const [name, num] of Object.entries(os.constants.errno)) if (num === errno) return { code: name, uv: -errno };
  return { code: `E${errno}`, uv: -errno };
}

/**
 * A child started by the spawn server, shaped like Node's ChildProcess in
 * the parts peapod uses: `pid` (set once the helper has exec'd it; the
 * `spawn` event says when), `stdin`/`stdout`/`stderr`/`stdio` (net.Sockets
 * for piped fds, null otherwise), `exitCode`, `signalCode`, `kill()`,
 * `unref()`, and the events `spawn`, `error`, `exit`, `close` with Node's
 * arguments and order (`close` after `exit` and after every piped fd above
 * 0 has closed; a child that could not be started gets `error` then
 * `close` with the negative errno).
 */
export class SpawnedProcess extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  readonly stdio: (net.Socket | null)[];
  private exited = false;
  private failed = false;
  private openOutputs = 0;
  private closed = false;
  private pendingSignal: NodeJS.Signals | number | undefined;
  /** @internal whether it keeps the event loop alive while running */
  refed = true;

  /** @internal made by SpawnServer.spawn */
  constructor(
    readonly spawnfile: string,
    readonly spawnargs: string[],
    stdio: (net.Socket | null)[],
    private readonly onRefChange: () => void,
  ) {
    super();
    this.stdio = stdio;
    stdio.forEach((s, i) => {
      if (!s) return;
      // A socket error nobody listens to must not end the server (a Node
      // child's pipes cannot fail to connect; these can, if the helper dies).
      s.on('error', () => undefined);
      if (i === 0) {
        // Never read by anyone; reading lets its end close it.
        s.resume();
        return;
      }
      this.openOutputs++;
      s.once('close', () => {
        this.openOutputs--;
        this.maybeClose();
      });
    });
  }

  /** The child's fd 0 when piped (a net.Socket: write to it, end it for EOF), else null. */
  get stdin(): Writable | null {
    return this.stdio[0] ?? null;
  }

  /** The child's fd 1 when piped (a net.Socket), else null. */
  get stdout(): Readable | null {
    return this.stdio[1] ?? null;
  }

  /** The child's fd 2 when piped (a net.Socket), else null. */
  get stderr(): Readable | null {
    return this.stdio[2] ?? null;
  }

  /** Whether it runs: spawned and not yet exited. */
  get running(): boolean {
    return this.pid !== undefined && !this.exited;
  }

  /**
   * Sends a signal (default SIGTERM). Before the helper has reported the pid,
   * the signal is sent as soon as it does.
   * @returns false when it has exited, failed, or the signal could not be sent.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited || this.failed) return false;
    if (this.pid === undefined) {
      this.pendingSignal = signal;
      return true;
    }
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Lets the event loop end while this child runs (its pipes still count, as with Node's ChildProcess). */
  unref(): void {
    if (!this.refed) return;
    this.refed = false;
    this.onRefChange();
  }

  /** Undoes unref(). */
  ref(): void {
    if (this.refed) return;
    this.refed = true;
    this.onRefChange();
  }

  /** @internal the helper exec'd it */
  spawned(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
    if (this.pendingSignal !== undefined) this.kill(this.pendingSignal);
  }

  /** @internal it could not be started */
  fail(err: NodeJS.ErrnoException): void {
    if (this.failed || this.exited) return;
    this.failed = true;
    this.exited = true;
    for (const s of this.stdio) s?.destroy();
    this.emit('error', err);
    this.exitCode = typeof err.errno === 'number' ? err.errno : -1;
    this.closed = true;
    this.emit('close', this.exitCode, null);
    this.onRefChange();
  }

  /** @internal it ended; code null and signal null when its fate is unknown (the helper died) */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.onRefChange();
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.closed || !this.exited || this.openOutputs > 0) return;
    this.closed = true;
    this.emit('close', this.exitCode, this.signalCode);
  }
}

/**
 * One peapod-spawner helper and the children it started for this process.
 * Start it with `SpawnServer.start`; `spawn` is then synchronous and never
 * forks this process.
 */
export class SpawnServer {
  private nextId = 1;
  private readonly live = new Map<number, SpawnedProcess>();
  /** Detached runs not yet ended, by request id. */
  private readonly runs = new Map<number, DetachedRun>();
  /** The start of an event (a line, or an output frame) whose end has not come yet. */
  private buffered: Buffer = Buffer.alloc(0);
  private dead = false;
  private closing = false;
  /** process.env encoded once, as the helper itself got it: the environment of every child not given its own. */
  private readonly ownEnvironment = encodeEnvironment(process.env);

  private constructor(
    private readonly helper: ChildProcess,
    private readonly address: string,
    private readonly onExit: (why: string) => void,
  ) {
    const events = helper.stdout as net.Socket;
    events.on('data', (d: Buffer) => this.onEvents(d));
    (helper.stdin as net.Socket).on('error', () => undefined);
    helper.on('exit', (code, signal) => this.onHelperExit(`peapod-spawner exited (${signal ?? `code ${code}`})`));
    helper.on('error', (err) => this.onHelperExit(`peapod-spawner failed: ${err.message}`));
    this.updateRef();
  }

  /**
   * Starts a helper and waits until it listens.
   * @param binary the peapod-spawner executable
   * @param onExit called once if the helper ends while this server is open
   * @throws Error when it cannot be started or does not get ready within 10 s.
   */
  static async start(binary = SPAWNER_BINARY, onExit: (why: string) => void = () => undefined): Promise<SpawnServer> {
    const name = `peapod-spawner-${process.pid}-${randomBytes(8).toString('hex')}`;
    const helper = spawn(binary, [name], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => done(new Error(`${binary} did not get ready within 10 s`)), 10_000);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        helper.stdout?.off('data', onData);
        helper.off('error', done);
        helper.off('exit', onEarlyExit);
        if (err) {
          helper.kill('SIGKILL');
          reject(err);
        } else resolve();
      };
      const onData = (d: Buffer): void => {
        text += d.toString('latin1');
        if (text === 'R\n') done();
        else if (text.length >= 2) done(new Error(`${binary}: unexpected first line ${JSON.stringify(text.slice(0, 80))}`));
      };
      const onEarlyExit = (code: number | null, signal: string | null): void => done(new Error(`${binary} exited before it was ready (${signal ?? `code ${code}`})`));
      helper.stdout?.on('data', onData);
      helper.once('error', done);
      helper.once('exit', onEarlyExit);
    });
    return new SpawnServer(helper, `\0${name}`, onExit);
  }

  /** Whether the helper still runs and takes requests. */
  get alive(): boolean {
    return !this.dead && !this.closing;
  }

  /** The helper's pid (its memory belongs to peapod-cri's). */
  get helperPid(): number | undefined {
    return this.helper.pid;
  }

  /**
   * Starts a child (see the module doc).
   * @throws Error when the server is closed or the request is malformed
   *   (more than 16 fds); a program that cannot be run is reported by the
   *   child's `error` event, as with Node's spawn.
   */
  spawn(r: SpawnRequest): SpawnedProcess {
    if (!this.alive) throw new Error('the spawn server is not running');
    if (r.stdio.length < 3 || r.stdio.length > MAX_FDS) throw new Error(`a child takes 3 to ${MAX_FDS} fds, not ${r.stdio.length}`);
    const id = this.takeId();
    const sockets = r.stdio.map((kind, index) => {
      if (kind !== 'pipe') return null;
      const s = net.connect(this.address);
      const head = Buffer.allocUnsafe(8);
      head.writeUInt32LE(id, 0);
      head.writeUInt32LE(index, 4);
      s.write(head);
      return s;
    });
    const child = new SpawnedProcess(r.file, [r.file, ...r.args], sockets, () => this.updateRef());
    this.live.set(id, child);
    (this.helper.stdin as net.Socket).write(encodeSpawnRequest(id, r, r.env === process.env ? this.ownEnvironment : undefined));
    this.updateRef();
    return child;
  }

  /**
   * Starts a detached run (see DetachedRunRequest): one request written to
   * the helper, no connection per pipe, no file read here.
   * @throws Error when the server is closed or the pid file is empty
   */
  runDetached(r: DetachedRunRequest): DetachedRun {
    if (!this.alive) throw new Error('the spawn server is not running');
    if (!r.pidFile) throw new Error('a detached run needs a pid file');
    const id = this.takeId();
    const run = new DetachedRun(r);
    this.runs.set(id, run);
    (this.helper.stdin as net.Socket).write(encodeDetachedRunRequest(id, r, r.env === process.env ? this.ownEnvironment : undefined));
    this.updateRef();
    return run;
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fff0 ? 1 : this.nextId + 1;
    return id;
  }

  /** Ends the helper (children it started keep running, as a Node parent's children do when it exits). */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.helper.stdin?.end();
    (this.helper.stdout as net.Socket).unref();
    this.helper.unref();
  }

  /** Keeps the event loop alive while a child that was not unref'd runs, as Node's ChildProcess does. */
  private updateRef(): void {
    let refed = this.runs.size > 0;
    for (const c of this.live.values()) if (c.refed && c.exitCode === null && c.signalCode === null) refed = true;
    const events = this.helper.stdout as net.Socket;
    if (refed && !this.closing) {
      events.ref();
      this.helper.ref();
    } else {
      events.unref();
      this.helper.unref();
    }
  }

  /** Events of the helper: lines, and output frames ("O <id> <fd> <len>\n" + len bytes). */
  private onEvents(chunk: Buffer): void {
    const buf = this.buffered.length > 0 ? Buffer.concat([this.buffered, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      const line = buf.toString('latin1', pos, nl);
      if (buf[pos] === 0x4f /* O */) {
        const [, idText, fdText, lenText] = line.split(' ');
        const len = Number(lenText);
        if (buf.length - (nl + 1) < len) break;
        this.runs.get(Number(idText))?.request.onOutput(fdText === '1' ? 'stdout' : 'stderr', buf.subarray(nl + 1, nl + 1 + len));
        pos = nl + 1 + len;
        continue;
      }
      pos = nl + 1;
      this.onLine(line);
    }
    this.buffered = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    this.updateRef();
  }

  private onLine(line: string): void {
    const [kind, idText, a, b, c, d] = line.split(' ');
    const id = Number(idText);
    const run = this.runs.get(id);
    if (run) {
      this.onRunEvent(id, run, kind, a, b, c, d);
      return;
    }
    const child = this.live.get(id);
    if (!child) return;
    if (kind === 'S') child.spawned(Number(a));
    else if (kind === 'E') {
      this.live.delete(id);
      child.fail(spawnError(child.spawnfile, child.spawnargs.slice(1), Number(a)));
    } else if (kind === 'X') {
      this.live.delete(id);
      const code = Number(a);
      child.exit(code < 0 ? null : code, code < 0 ? signalName(Number(b)) : null);
    }
  }

  private onRunEvent(id: number, run: DetachedRun, kind: string | undefined, a?: string, b?: string, c?: string, d?: string): void {
    if (kind === 'S') run.started(Number(a));
    else if (kind === 'P') {
      run.leftPid = Number(a);
      run.request.onLeft?.(run.leftPid);
    } else if (kind === 'E') {
      this.runs.delete(id);
      run.settle.reject(spawnError(run.request.file, [...run.request.args], Number(a)));
    } else if (kind === 'D') {
      this.runs.delete(id);
      const pcode = Number(c);
      run.settle.resolve({ child: endOf(Number(a), Number(b)), left: pcode === -2 ? null : pcode === -3 ? { code: null, signal: null } : endOf(pcode, Number(d)) });
    }
  }

  /**
   * The helper is gone: children not yet started fail; the exit of children
   * that run can no longer be reported by it, so each is watched in /proc
   * and reported with an unknown code (null, null) once gone.
   */
  private onHelperExit(why: string): void {
    if (this.dead) return;
    this.dead = true;
    if (!this.closing) this.onExit(why);
    for (const [id, run] of this.runs) {
      this.runs.delete(id);
      run.settle.reject(Object.assign(new Error(`spawn ${run.request.file}: ${why}`), { code: 'ESPAWNER', syscall: `spawn ${run.request.file}`, path: run.request.file }));
    }
    for (const [id, child] of this.live) {
      this.live.delete(id);
      if (child.pid === undefined) {
        child.fail(Object.assign(new Error(`spawn ${child.spawnfile}: ${why}`), { code: 'ESPAWNER', syscall: `spawn ${child.spawnfile}`, path: child.spawnfile }));
        continue;
      }
      void watchGone(child.pid, child.refed).then(() => child.exit(null, null));
    }
    this.updateRef();
  }
}

/** A process end from the helper's numbers: code -1 means killed by `signal`. */
function endOf(code: number, signal: number): ProcessEnd {
  return { code: code < 0 ? null : code, signal: code < 0 ? signalName(signal) : null };
}

/** The error of a child that could not be started, shaped as Node's spawn reports it. */
function spawnError(file: string, args: string[], errno: number): NodeJS.ErrnoException {
  const { code, uv } = errnoCode(errno);
  return Object.assign(new Error(`spawn ${file} ${code}`), { code, errno: uv, syscall: `spawn ${file}`, path: file, spawnargs: args });
}

/** Whether a process is gone or a zombie (from /proc/<pid>/stat). */
function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Resolves with an unknown end once `pid` is gone (polled every 100 ms: only after the helper died). */
function watchGone(pid: number, refed = true): Promise<ProcessEnd> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!gone(pid)) return;
      clearInterval(timer);
      resolve({ code: null, signal: null });
    }, 100);
    if (!refed) timer.unref();
  });
}
