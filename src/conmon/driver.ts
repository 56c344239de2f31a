import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { PeapodError } from '../common/errors';
import { quoteInput, relayedText } from '../common/bounded-text';
import { spawnHostProcess } from '../common/host/command';
import { killProcess, processTree, readPid } from '../common/host/proc';
import { setLongTimeout } from '../common/time';

/**
 * The conmon driver: the only code in peapod that knows conmon (containers/
 * conmon 2.x, `man conmon`). It builds conmon's arguments, passes it the
 * sync and start pipes, reads the JSON conmon writes back and names the
 * files conmon keeps (exit file, oom file, ctl FIFO, attach socket).
 *
 * Protocol (conmon `src/conmon.c`, `src/cli.c`, API version 1):
 * - `_OCI_SYNCPIPE=<fd>`: conmon writes `{"data": <pid>}` once the runtime
 *   created the container, or `{"data": -1, "message": "<error>"}` when it failed.
 * - `_OCI_STARTPIPE=<fd>`: conmon waits until the parent writes to it (the
 *   parent may move conmon into a cgroup first), then runs `runtime create`.
 * - conmon double-forks: the process spawned here exits quickly; the monitor
 *   lives on (its pid goes to `--conmon-pidfile`), outliving peapod.
 * - On exit it writes the decimal exit status to `<exit-dir>/<id>` and
 *   `<persist-dir>/exit`, and `<persist-dir>/oom` when the OOM killer struck.
 */

/** Options of one container's monitor. All paths absolute. */
export interface ConmonCreateOptions {
  /** Container ID (`-c`, also used as `-u` and `-n`). */
  id: string;
  /** OCI bundle directory holding config.json (`-b`); conmon puts its ctl FIFO there. */
  bundle: string;
  /** OCI runtime binary (`-r`). */
  runtimePath: string;
  /** The runtime's state directory (`--runtime-arg --root=…`). */
  runtimeRoot: string;
  /** File the container's init pid is written to (`-p`). */
  pidFile: string;
  /** File conmon's own pid is written to (`--conmon-pidfile`). */
  conmonPidFile: string;
  /** CRI log file written in the k8s-file format (`-l k8s-file:PATH`). */
  logPath: string;
  /** Directory of exit files, one per container named by ID (`--exit-dir`). */
  exitDir: string;
  /** Directory for attach sockets (`--socket-dir-path`). */
  socketDir: string;
  /** Directory kept for this container: exit and oom files (`--persist-dir`). */
  persistDir: string;
  /** Allocate a terminal (`-t`). */
  terminal: boolean;
  /** Keep a pipe for the container's stdin (`-i`). */
  stdin: boolean;
  /**
   * CRI `stdin_once`: close the container's stdin when the first attach
   * client leaves. When false, conmon gets `--leave-stdin-open`, so an attach
   * client that goes away does not end the container's input.
   */
  stdinOnce?: boolean;
  /** Maximum log file size in bytes before conmon truncates (`--log-size-max`); omitted when undefined. */
  logSizeMax?: number;
  /** Use the systemd cgroup manager (`-s`). */
  systemdCgroup: boolean;
  /** conmon's own log level (`--log-level`). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Milliseconds to wait for the runtime to create the container (default 120000). */
  timeoutMs?: number;
  /**
   * A program conmon runs once the container has exited and its exit file is
   * written (`--exit-command` with each further word as `--exit-command-arg`),
   * as Podman has conmon run `podman container cleanup`. Absolute path
   * first; conmon gives it no environment. Absent: none.
   */
  exitCommand?: string[];
}

/** What a successful create returns. */
export interface ConmonCreated {
  /** Host pid of the container's init process (state `created`). */
  pid: number;
  /** Pid of the conmon monitor, when it wrote its pid file. */
  conmonPid?: number;
}

/** conmon or the runtime failed; `message` is what conmon reported. */
export class ConmonError extends PeapodError {
  constructor(message: string) {
    super('INTERNAL', message);
    this.name = 'ConmonError';
  }
}

/** `<exit-dir>/<id>`: the decimal exit status, written when the container ends. */
export function exitFilePath(exitDir: string, id: string): string {
  return path.join(exitDir, id);
}

/**
 * Removes a container's exit file and what a write of it cut short left:
 * conmon writes `<exit-dir>/<id>` atomically (GLib's g_file_set_contents: a
 * temp `<id>.XXXXXX`, then a rename), so a monitor killed between the two
 * (a removal right after the exit, which persist/exit already recorded)
 * leaves the temp. Call once the monitor is gone. Off the event loop: a
 * readdir of the exit dir and an unlink per file of the container.
 * @param exitDir conmon's `--exit-dir`
 * @param id the container's ID (64 hex digits: no other container's file starts with `<id>.`)
 */
export async function removeExitFiles(exitDir: string, id: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(exitDir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n === id || n.startsWith(`${id}.`)).map((n) => fs.promises.rm(path.join(exitDir, n), { force: true })));
}

/** `<persist-dir>/exit`: a copy of the exit status kept with the container. */
export function persistExitFilePath(persistDir: string): string {
  return path.join(persistDir, 'exit');
}

/** `<persist-dir>/oom`: present when the OOM killer ended the container. */
export function oomFilePath(persistDir: string): string {
  return path.join(persistDir, 'oom');
}

/** `<bundle>/ctl`: the control FIFO (`<type> <height> <width>\n`). */
export function ctlFifoPath(bundle: string): string {
  return path.join(bundle, 'ctl');
}

/** Bytes of a unix socket path (sun_path) on Linux, its terminating NUL included. */
const SUN_PATH_BYTES = 108;

/**
 * The link conmon makes to the bundle of a container started with `-u <id>`
 * (`<socket dir>/<id>`), under which it binds the attach socket. When that
 * path would be exactly 107 bytes conmon cuts the link's name by one byte
 * (containers/conmon src/conn_sock.c, socket_parent_dir), so the path is
 * computed the same way here: attaching to and removing the uncut name
 * would miss it.
 */
export function attachSocketDir(socketDir: string, id: string): string {
  const dir = path.join(socketDir, id);
  return Buffer.byteLength(dir) === SUN_PATH_BYTES - 1 ? dir.slice(0, -1) : dir;
}

/** The attach socket (SOCK_SEQPACKET) of a container started with `-u <id>`. */
export function attachSocketPath(socketDir: string, id: string): string {
  return path.join(attachSocketDir(socketDir, id), 'attach');
}

/** Reads the exit status conmon wrote; undefined while the file is absent or empty. */
export function readExitFile(file: string): { exitCode: number; finishedAtNs: bigint } | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    if (text === '') return undefined;
    const st = fs.statSync(file, { bigint: true });
    return { exitCode: Number.parseInt(text, 10), finishedAtNs: st.mtimeNs };
  } catch {
    return undefined;
  }
}

/** Parses conmon's sync-pipe messages (one JSON object per line, API version 1). */
export function parseSyncMessages(text: string): { data: number; message?: string }[] {
  const out: { data: number; message?: string }[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = JSON.parse(line) as { data?: number; message?: string };
    if (typeof m.data === 'number') out.push({ data: m.data, message: m.message });
  }
  return out;
}

/** Builds conmon's argument vector for a container (exposed for tests). */
export function conmonCreateArgs(o: ConmonCreateOptions): string[] {
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.id,
    '-r', o.runtimePath,
    '-b', o.bundle,
    '-p', o.pidFile,
    '--conmon-pidfile', o.conmonPidFile,
    '-l', `k8s-file:${o.logPath}`,
    '--exit-dir', o.exitDir,
    '--socket-dir-path', o.socketDir,
    '--persist-dir', o.persistDir,
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '--log-level', o.logLevel ?? 'error',
    '--syslog',
  ];
  if (o.systemdCgroup) args.push('-s');
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.stdin && !o.stdinOnce) args.push('--leave-stdin-open');
  if (o.logSizeMax !== undefined && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  if (o.exitCommand && o.exitCommand.length > 0) {
    args.push('--exit-command', o.exitCommand[0]);
    for (const a of o.exitCommand.slice(1)) args.push('--exit-command-arg', a);
  }
  return args;
}

/** Options of one ExecSync process run by conmon in exec mode. All paths absolute. */
export interface ConmonExecOptions {
  /** The container to exec in (`-c`). */
  containerId: string;
  /** A unique name of this exec session (`-u`). */
  execId: string;
  runtimePath: string;
  runtimeRoot: string;
  /** A runtime-spec `process` JSON file (`--exec-process-spec`). */
  processSpecFile: string;
  /** A scratch directory owned by this exec: pid, exit and log files go there. */
  workDir: string;
  /** Seconds after which conmon kills the process (`-T`); 0 = none. */
  timeoutSec: number;
  /** Bytes of log (both streams) after which conmon stops writing (`--log-global-size-max`). */
  maxLogBytes: number;
}

/** The outcome of a conmon exec. */
export interface ConmonExecResult {
  /** The process's exit status; -1 when it timed out. */
  exitCode: number;
  timedOut: boolean;
  /** Message conmon gave with the exit (e.g. `command timed out`). */
  message?: string;
  /** The k8s-file log holding stdout and stderr records. */
  logFile: string;
}

/** The message conmon reports when `-T` expired. */
export const CONMON_TIMED_OUT_MESSAGE = 'command timed out';

/** How long a failed exec waits for the rest of conmon's stderr, in ms. */
const STDERR_GRACE_MS = 2000;

/** Seconds conmon's own -T waits beyond the exec timeout peapod enforces. */
const EXEC_BACKSTOP_SECONDS = 5;

/**
/**
 * The longest -T conmon is given, in seconds: conmon reads it as a C int and
 * hands it to GLib's g_timeout_add_seconds, whose millisecond arithmetic is
 * 32-bit unsigned in places (2^32 ms is 49.7 days). A longer exec timeout
 * gets no -T: peapod's own deadline (ConmonDriver.exec) still applies.
 */
const MAX_CONMON_TIMEOUT_SECONDS = Math.floor((2 ** 32 - 1) / 1000);

/**
 * Builds conmon's argument vector for an exec session (exposed for tests).
 * No `-b`: with a bundle, conmon sets up an attach socket and its ctl and
 * winsz FIFOs there, which concurrent execs of one container would share
 * and collide on (`console-socket Address already in use`); a run-to-end
 * exec needs none of them (CRI-O's ExecSync passes none either).
 */
export function conmonExecArgs(o: ConmonExecOptions): string[] {
  const args = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.execId,
    '-r', o.runtimePath,
    '-p', path.join(o.workDir, 'pid'),
    '-e',
    '--exec-process-spec', o.processSpecFile,
    '-l', `k8s-file:${path.join(o.workDir, 'log')}`,
    '--log-global-size-max', String(o.maxLogBytes),
    '--exit-dir', path.join(o.workDir, 'exit'),
    '--socket-dir-path', path.join(o.workDir, 'sock'),
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '--log-level', 'error',
    '--syslog',
  ];
  // peapod kills at the deadline itself (see ConmonDriver.exec); conmon's -T is only a backstop.
  const backstop = Math.ceil(o.timeoutSec) + EXEC_BACKSTOP_SECONDS;
  if (o.timeoutSec > 0 && backstop <= MAX_CONMON_TIMEOUT_SECONDS) args.push('-T', String(backstop));
  return args;
}

/** Drives the conmon binary. */
export class ConmonDriver {
  /** @param conmonPath path of the conmon binary */
  constructor(readonly conmonPath: string) {}

  /**
   * Starts a monitor that runs `runtime create` for the bundle, and waits
   * until the container exists (runtime state `created`).
   *
   * @returns the container's init pid and conmon's pid.
   * @throws ConmonError with the runtime's message when creation failed or timed out.
   */
  create(o: ConmonCreateOptions): Promise<ConmonCreated> {
    // peapod's own directories owner only (docs/security.md); the log's is the front end's (the kubelet's log_directory).
    for (const d of [o.exitDir, o.socketDir, o.persistDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(o.logPath), { recursive: true });
    const child = spawnHostProcess(this.conmonPath, conmonCreateArgs(o), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      detached: true,
    });
    const sync = child.stdio[3] as Readable;
    const start = child.stdio[4] as Writable;
    const stdout = child.stdout as Readable;
    const stderr = child.stderr as Readable;
    let syncText = '';
    let errText = '';
    return new Promise<ConmonCreated>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: ConmonCreated): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const s of [sync, stdout, stderr]) s.destroy();
        start.destroy();
        child.unref();
        if (err) reject(err);
        else resolve(value as ConmonCreated);
      };
      const timer = setTimeout(() => {
        const pid = readPid(o.conmonPidFile);
        if (pid) killProcess(pid);
        finish(new ConmonError(`conmon: the runtime did not create container ${o.id} within ${(o.timeoutMs ?? 120000) / 1000}s`));
      }, o.timeoutMs ?? 120000);
      child.on('error', (err) => finish(new ConmonError(`conmon: cannot run ${this.conmonPath}: ${err.message}`)));
      stderr.on('data', (d: Buffer) => {
        errText = (errText + d.toString()).slice(-16384); // the end: where the reason is
      });
      stdout.on('data', () => undefined);
      sync.on('data', (d: Buffer) => {
        syncText += d.toString();
        let msgs: { data: number; message?: string }[];
        try {
          msgs = parseSyncMessages(syncText.slice(0, syncText.lastIndexOf('\n') + 1));
        } catch (err) {
          finish(new ConmonError(`conmon: unreadable sync message ${quoteInput(syncText)}: ${(err as Error).message}`));
          return;
        }
        const m = msgs[0];
        if (!m) return;
        if (m.data > 0) finish(undefined, { pid: m.data, conmonPid: readPid(o.conmonPidFile) });
        else finish(new ConmonError(m.message?.trim() ? relayedText(m.message) : `conmon: runtime create failed (${m.data})`));
      });
      sync.on('close', () => {
        setTimeout(() => finish(new ConmonError(`conmon exited without creating container ${o.id}${errText.trim() ? `: ${relayedText(errText)}` : ''}`)), 50);
      });
      start.on('error', () => undefined);
      sync.on('error', () => undefined);
      start.end('0');
    });
  }

  /**
   * Runs a process in a running container with conmon in exec mode and
   * waits for its exit. conmon reaps the process, so the call ends when the
   * process ends even if a background child keeps its stdout open; with
   * `timeoutSec` conmon kills it at the deadline and reports `command timed out`.
   *
   * @returns the exit code and the log file holding the output.
   * @throws ConmonError when conmon or the runtime could not start the process.
   */
  exec(o: ConmonExecOptions): Promise<ConmonExecResult> {
    for (const d of ['exit', 'sock']) fs.mkdirSync(path.join(o.workDir, d), { recursive: true, mode: 0o700 });
    const logFile = path.join(o.workDir, 'log');
    const child = spawnHostProcess(this.conmonPath, conmonExecArgs(o), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      detached: true,
    });
    const sync = child.stdio[3] as Readable;
    const start = child.stdio[4] as Writable;
    let syncText = '';
    let errText = '';
    return new Promise<ConmonExecResult>((resolve, reject) => {
      let settled = false;
      let killedAtDeadline = false;
      const finish = (err: Error | undefined, value?: ConmonExecResult): void => {
        if (settled) return;
        settled = true;
        guard.clear();
        deadline.clear();
        for (const s of [sync, child.stdout as Readable, child.stderr as Readable]) s.destroy();
        start.destroy();
        child.unref();
        if (err) reject(err);
        else resolve(value as ConmonExecResult);
      };
      // At the deadline peapod SIGKILLs the process and its descendants while
      // conmon (their subreaper) still runs, so conmon reaps them and reports
      // the exit. conmon's own -T would kill and exit at once, leaving the
      // process to the container's init, often as a zombie that never goes.
      // Both timers take any length (setLongTimeout): a client's 30-day timeout
      // given to a bare setTimeout would fire after 1 ms. No timeout: never.
      const deadline = setLongTimeout(
        () => {
          const pid = readPid(path.join(o.workDir, 'pid'));
          if (!pid) return;
          killedAtDeadline = true;
          for (const p of processTree(pid)) killProcess(p);
        },
        o.timeoutSec > 0 ? o.timeoutSec * 1000 : Infinity,
      );
      // This guard only catches a monitor that hangs.
      const guardMs = o.timeoutSec > 0 ? (o.timeoutSec + 30) * 1000 : Infinity;
      const guard = setLongTimeout(() => {
        const pid = readPid(path.join(o.workDir, 'pid'));
        if (pid) killProcess(pid);
        finish(undefined, { exitCode: -1, timedOut: true, message: CONMON_TIMED_OUT_MESSAGE, logFile });
      }, guardMs);
      child.on('error', (err) => finish(new ConmonError(`conmon: cannot run ${this.conmonPath}: ${err.message}`)));
      (child.stderr as Readable).on('data', (d: Buffer) => {
        errText = (errText + d.toString()).slice(-16384); // the end: where the reason is
      });
      (child.stdout as Readable).on('data', () => undefined);
      sync.on('data', (d: Buffer) => {
        syncText += d.toString();
      });
      // conmon's own complaint (on stderr) may still be in flight when the sync pipe closes.
      const stderrEnded = new Promise<void>((resolve) => {
        (child.stderr as Readable).once('close', () => resolve());
        setTimeout(resolve, STDERR_GRACE_MS).unref();
      });
      const failed = (what: string): void => {
        void stderrEnded.then(() => finish(new ConmonError(`${what}${errText.trim() ? `: ${relayedText(errText)}` : ''}`)));
      };
      sync.on('close', () => {
        let msgs: { data: number; message?: string }[];
        try {
          msgs = parseSyncMessages(syncText);
        } catch (err) {
          finish(new ConmonError(`conmon: unreadable sync message ${quoteInput(syncText)}: ${(err as Error).message}`));
          return;
        }
        // First message: the pid (or -1 with the runtime's error); second: the exit status.
        const first = msgs[0];
        if (!first) return failed(`conmon exec in ${o.containerId} failed`);
        if (first.data <= 0) return first.message?.trim() ? finish(new ConmonError(relayedText(first.message))) : failed(`conmon exec in ${o.containerId} failed`);
        const last = msgs[1];
        if (!last) return finish(new ConmonError(`conmon exec in ${o.containerId}: monitor ended without an exit status`));
        const timedOut = killedAtDeadline || (last.message?.includes(CONMON_TIMED_OUT_MESSAGE) ?? false);
        finish(undefined, { exitCode: timedOut ? -1 : last.data, timedOut, message: timedOut ? CONMON_TIMED_OUT_MESSAGE : last.message, logFile });
      });
      start.on('error', () => undefined);
      sync.on('error', () => undefined);
      start.end('0');
    });
  }

  /**
   * Asks a container's monitor to reopen its log file (ctl FIFO message
   * type 2), as after the kubelet renamed the file away.
   *
   * @throws ConmonError when no monitor listens on the FIFO (the container is not running).
   */
  reopenLog(bundle: string): void {
    let fd: number;
    try {
      fd = fs.openSync(ctlFifoPath(bundle), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      throw new ConmonError(`conmon: no monitor listens on ${ctlFifoPath(bundle)}: ${(err as Error).message}`);
    }
    try {
      fs.writeSync(fd, '2 0 0\n');
    } finally {
      fs.closeSync(fd);
    }
  }
}
