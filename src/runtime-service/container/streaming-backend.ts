import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { wrongState } from '../../common/errors';
import { runHostCommand, spawnHostProcess } from '../../common/host/command';
import { killProcess, readPid } from '../../common/host/proc';
import { sleep } from '../../common/time';
import type { RemoteCommandBackend, StdioStreams, TerminalSize } from '../../server/streaming/backend';
import type { ContainerEngine } from './engine';
import { parseLogLine } from './logs';
import type { ContainerRecord } from './record';

/** Quotes one word for sh -c. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The container engine's side of Exec and Attach
 * (src/streaming/backend.ts).
 *
 * - Exec runs `runc exec` with the container's process settings. Without a
 *   terminal, runc copies between our pipes and the process. With one, runc
 *   needs a terminal of its own to relay from, so it runs under util-linux
 *   `script` (a pty set raw, so bytes pass unchanged); terminal size changes
 *   go to the process's terminal with `stty -F /proc/<pid>/fd/0`.
 * - Attach follows the container's log file from its current end (conmon
 *   writes every byte the container prints there, streams apart) and sends
 *   stdin to conmon's attach socket through socat (Node has no SOCK_SEQPACKET).
 */
export class ContainerStreamingBackend implements RemoteCommandBackend {
  constructor(private readonly engine: ContainerEngine) {}

  private async running(containerId: string): Promise<ContainerRecord> {
    const rec = await this.engine.refresh(containerId);
    if (rec.state !== 'CONTAINER_RUNNING') throw wrongState(`container ${rec.id} is not running`);
    return rec;
  }

  /** @throws PeapodError NOT_FOUND / WRONG_STATE (not running). */
  async checkContainer(containerId: string): Promise<void> {
    await this.running(containerId);
  }

  /** Runs `cmd` in the container (see class doc); resolves with its exit code once its output is written. */
  async exec(containerId: string, cmd: string[], io: StdioStreams): Promise<number> {
    const rec = await this.running(containerId);
    const spec = this.engine.spec(rec.id);
    if (!spec) throw new Error(`container ${rec.id} has no bundle`);
    const workDir = path.join(rec.bundle, `exec-${randomBytes(8).toString('hex')}`);
    fs.mkdirSync(workDir, { recursive: true });
    const processFile = path.join(workDir, 'process.json');
    const pidFile = path.join(workDir, 'pid');
    fs.writeFileSync(processFile, JSON.stringify({ ...spec.process, args: cmd, terminal: io.tty }));
    const runtime = this.engine.runtimeOf(rec);
    const runcArgs = ['--root', runtime.root, 'exec', '--process', processFile, '--pid-file', pidFile, rec.id];
    const child = io.tty
      ? spawnHostProcess('script', ['-q', '-e', '-c', `stty raw -echo; exec ${[runtime.binary, ...runcArgs].map(shellQuote).join(' ')}`, '/dev/null'])
      : spawnHostProcess(runtime.binary, runcArgs);
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    const kill = (): void => {
      const pid = readPid(pidFile);
      if (pid) killProcess(pid);
      child.kill('SIGKILL');
    };
    io.signal.addEventListener('abort', kill);
    if (io.tty && io.resize) void this.followResize(io.resize, pidFile, child);
    stdin.on('error', () => undefined);
    // Without stdin a plain exec reads EOF at once; under `script` an ended input would be typed into the terminal, so it stays open.
    if (io.stdin) io.stdin.pipe(stdin);
    else if (!io.tty) stdin.end();
    const outputs = [this.copy(stdout, io.stdout), io.tty ? this.copy(stderr, undefined) : this.copy(stderr, io.stderr)];
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
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }

  private copy(from: Readable, to: NodeJS.WritableStream | undefined): Promise<void> {
    return new Promise<void>((done) => {
      from.on('data', (d: Buffer) => to?.write(d));
      from.on('end', () => done());
      from.on('error', () => done());
    });
  }

  private async followResize(sizes: AsyncIterable<TerminalSize>, pidFile: string, child: { exitCode: number | null }): Promise<void> {
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

  /** Joins the container's output (from its log) and stdin (through conmon) until it exits or the client leaves. */
  async attach(containerId: string, io: StdioStreams): Promise<void> {
    const rec = await this.running(containerId);
    let stdinRelay: ReturnType<typeof spawnHostProcess> | undefined;
    if (io.stdin && rec.stdin) {
      // A relative address run from the socket's directory: the absolute path may exceed sun_path's 108 bytes.
      const socket = this.engine.attachSocket(rec);
      stdinRelay = spawnHostProcess('socat', ['-u', 'STDIN', `UNIX-CONNECT:${path.basename(socket)},type=5`], { cwd: path.dirname(socket), stdio: ['pipe', 'ignore', 'ignore'] });
      stdinRelay.stdin?.on('error', () => undefined);
      io.stdin.pipe(stdinRelay.stdin as NodeJS.WritableStream);
    }
    const logFile = rec.logPath || path.join(rec.bundle, 'console.log');
    let offset = 0;
    try {
      offset = fs.statSync(logFile).size;
    } catch {
      /* not yet written */
    }
    let pending = '';
    const pump = (): void => {
      let fd: number;
      try {
        fd = fs.openSync(logFile, 'r');
      } catch {
        return;
      }
      try {
        const size = fs.fstatSync(fd).size;
        if (size < offset) offset = 0; // rotated: a fresh file
        if (size === offset) return;
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        pending += buf.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) {
          const r = parseLogLine(l);
          if (!r) continue;
          const text = r.tag === 'F' ? `${r.text}\n` : r.text;
          const to = io.tty || r.stream === 'stdout' ? io.stdout : io.stderr;
          to?.write(text);
        }
      } finally {
        fs.closeSync(fd);
      }
    };
    try {
      while (!io.signal.aborted) {
        pump();
        const now = this.engine.find(rec.id);
        if (!now || now.state === 'CONTAINER_EXITED') {
          await sleep(50);
          pump();
          return;
        }
        await sleep(100);
        await this.engine.refresh(rec.id).catch(() => undefined);
      }
    } finally {
      if (stdinRelay) {
        io.stdin?.unpipe(stdinRelay.stdin as NodeJS.WritableStream);
        stdinRelay.kill('SIGTERM');
      }
    }
  }

}
