/**
 * `runc exec` of one process in a running container with the client's
 * stdio: the part of an interactive exec (exec.ts: the CRI's streaming
 * Exec, the CLI's `exec`) after the container was found running. It needs
 * the container's record and its runtime only, not the container engine,
 * so a front end that has checked the record itself (the CLI's `exec`,
 * which reads it without writing: docs/cli.md) runs the same code without
 * building the engine.
 *
 * Without a terminal, runc copies between our pipes and the process. With
 * one, runc needs a terminal of its own to relay from, so it runs under
 * util-linux `script` (a pty set raw, so bytes pass unchanged); terminal
 * size changes go to the process's terminal with `stty -F /proc/<pid>/fd/0`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { forwardOutput } from '../../common/backpressure';
import { runHostCommand, spawnHostProcess } from '../../common/host/command';
import { killProcess, readPid } from '../../common/host/proc';
import { sleep } from '../../common/time';
import type { OciRuntime } from '../oci/runc';
import { ExecOverrides, writeExecProcess } from './exec-process';
import type { ContainerRecord } from './record';
import { checkExecCommand } from './spec-bounds';
import type { StdioStreams, TerminalSize } from './stdio';

/** Quotes one word for sh -c. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Copies a process's output to the client with backpressure: a slow client stops reading the pipe. */
function copy(from: Readable, to: Writable | undefined): Promise<void> {
  return forwardOutput(from, to);
}

/** ` rows H cols W` for stty when the size is known (runc gives its own terminal's size to the process's at start). */
function sttySize(size: TerminalSize | undefined): string {
  return size && size.width > 0 && size.height > 0 ? ` rows ${Math.floor(size.height)} cols ${Math.floor(size.width)}` : '';
}

async function followResize(sizes: AsyncIterable<TerminalSize>, pidFile: string, child: { exitCode: number | null }): Promise<void> {
  for await (const size of sizes) {
    let pid = readPid(pidFile);
    for (let i = 0; !pid && i < 100 && child.exitCode === null; i++) {
      await sleep(20);
      pid = readPid(pidFile);
    }
    if (!pid) return;
    await runHostCommand('stty', ['-F', `/proc/${pid}/fd/0`, 'rows', String(size.height), 'cols', String(size.width)]).catch(() => undefined);
  }
}

/**
 * Removes an exec's work directory: its known files and the directory, three
 * system calls; the recursive walk only when something else was left in it.
 */
function removeWorkDir(dir: string, files: string[]): void {
  try {
    for (const f of files) fs.rmSync(f, { force: true });
    fs.rmdirSync(dir);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `cmd` in container `rec`, which the caller found running, with the
 * client's stdio (see the module doc), as its main process runs unless
 * `overrides` change the environment, user or working directory.
 * @param runtime the OCI runtime of the container's handler (binary and `--root`)
 * @returns its exit code (128+N when killed by signal N), once everything it printed is written.
 * @throws InvalidArgumentError for a command over the bounds (spec-bounds.ts) or a bad
 *   override; WrongStateError when the container has no bundle any more; Error when
 *   the process cannot be run.
 */
export async function execWithStdio(runtime: Pick<OciRuntime, 'binary' | 'root'>, rec: ContainerRecord, cmd: string[], io: StdioStreams, overrides: ExecOverrides = {}): Promise<number> {
  checkExecCommand(cmd);
  const work = writeExecProcess(rec, cmd, io.tty, io.initialSize ? { ...overrides, consoleSize: io.initialSize } : overrides);
  const pidFile = path.join(work.dir, 'pid');
  const runcArgs = ['--root', runtime.root, 'exec', '--process', work.processFile, '--pid-file', pidFile, rec.id];
  // Without stdin a plain exec reads EOF at once: /dev/null, no pipe. Under `script` an ended input would be typed into the terminal, so it is a pipe left open.
  const child = io.tty
    ? spawnHostProcess('script', ['-q', '-e', '-c', `stty raw -echo${sttySize(io.initialSize)}; exec ${[runtime.binary, ...runcArgs].map(shellQuote).join(' ')}`, '/dev/null'])
    : spawnHostProcess(runtime.binary, runcArgs, { stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const stdin = child.stdin;
  const kill = (): void => {
    const pid = readPid(pidFile);
    if (pid) killProcess(pid);
    child.kill('SIGKILL');
  };
  io.signal.addEventListener('abort', kill);
  if (io.tty && io.resize) void followResize(io.resize, pidFile, child);
  stdin?.on('error', () => undefined);
  if (io.stdin && stdin) io.stdin.pipe(stdin);
  const outputs = [copy(child.stdout!, io.stdout), io.tty ? copy(child.stderr!, undefined) : copy(child.stderr!, io.stderr)];
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        void Promise.all(outputs).then(() => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
      });
    });
  } finally {
    io.signal.removeEventListener('abort', kill);
    if (io.stdin && stdin) io.stdin.unpipe(stdin);
    stdin?.destroy();
    removeWorkDir(work.dir, [work.processFile, pidFile]);
  }
}
