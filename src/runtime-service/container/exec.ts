/**
 * An interactive exec in a container (the CRI's streaming Exec, a CLI's
 * `exec -it`): `runc exec` with the container's process settings, its stdio
 * joined to the client's streams. Without a terminal, runc copies between
 * our pipes and the process. With one, runc needs a terminal of its own to
 * relay from, so it runs under util-linux `script` (a pty set raw, so bytes
 * pass unchanged); terminal size changes go to the process's terminal with
 * `stty -F /proc/<pid>/fd/0`.
 */
import { checkExecCommand } from './spec-bounds';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { forwardOutput } from '../../common/backpressure';
import { notFound } from '../../common/errors';
import { runHostCommand, spawnHostProcess } from '../../common/host/command';
import { killProcess, readPid } from '../../common/host/proc';
import { sleep } from '../../common/time';
import { ContainerDeps, runtimeFor } from './deps';
import { ExecOverrides, writeExecProcess } from './exec-process';
import { applyExit } from './exits';
import type { ContainerRecord } from './record';
import { mustBeRunning } from './state';
import type { StdioStreams, TerminalSize } from './stdio';

/** Quotes one word for sh -c. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The container, refreshed from its exit file, when it is running.
 * @throws NotFoundError; WrongStateError (not running) naming `verb`.
 */
export async function runningContainer(deps: ContainerDeps, id: string, verb: string): Promise<ContainerRecord> {
  if (!deps.store.find(id)) throw notFound(`container "${id}" not found`);
  await applyExit(deps, id);
  const rec = deps.store.find(id);
  if (!rec) throw notFound(`container "${id}" not found`);
  mustBeRunning(rec, verb);
  return rec;
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
 * Runs `cmd` in a running container with the client's stdio (see the
 * module doc), as its main process runs unless `overrides` change the
 * environment, user or working directory.
 * @returns its exit code (128+N when killed by signal N), once everything it printed is written.
 * @throws NotFoundError; WrongStateError when the container is not running;
 *   Error when the process cannot be run.
 */
export async function execStreaming(deps: ContainerDeps, id: string, cmd: string[], io: StdioStreams, overrides: ExecOverrides = {}): Promise<number> {
  checkExecCommand(cmd);
  const rec = await runningContainer(deps, id, 'exec');
  const work = writeExecProcess(rec, cmd, io.tty, io.initialSize ? { ...overrides, consoleSize: io.initialSize } : overrides);
  const pidFile = path.join(work.dir, 'pid');
  const runtime = runtimeFor(deps, rec.runtimeHandler);
  const runcArgs = ['--root', runtime.root, 'exec', '--process', work.processFile, '--pid-file', pidFile, rec.id];
  const child = io.tty
    ? spawnHostProcess('script', ['-q', '-e', '-c', `stty raw -echo${sttySize(io.initialSize)}; exec ${[runtime.binary, ...runcArgs].map(shellQuote).join(' ')}`, '/dev/null'])
    : spawnHostProcess(runtime.binary, runcArgs);
  const stdin = child.stdin!;
  const kill = (): void => {
    const pid = readPid(pidFile);
    if (pid) killProcess(pid);
    child.kill('SIGKILL');
  };
  io.signal.addEventListener('abort', kill);
  if (io.tty && io.resize) void followResize(io.resize, pidFile, child);
  stdin.on('error', () => undefined);
  // Without stdin a plain exec reads EOF at once; under `script` an ended input would be typed into the terminal, so it stays open.
  if (io.stdin) io.stdin.pipe(stdin);
  else if (!io.tty) stdin.end();
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
    if (io.stdin) io.stdin.unpipe(stdin);
    stdin.destroy();
    fs.rmSync(work.dir, { recursive: true, force: true });
  }
}
