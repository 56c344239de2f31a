/**
 * Starting and stopping the peapod-cri that critest judges. Unlike the test
 * harness's server, it runs in its own process group (so a Ctrl-C in the
 * terminal reaches only the runner, which then cleans up through it) and
 * logs to a file.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connectCri, CriClient } from '../../test/integration/harness/client';

/** Path of the built peapod-cri entry point. */
export const PEAPOD_CRI_MAIN = path.resolve(__dirname, '..', '..', 'src', 'server', 'main.js');

/** A running peapod-cri. */
export interface PeapodProcess {
  socket: string;
  child: ChildProcess;
  client: CriClient;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Starts `node dist/src/server/main.js --config FILE --config-dir DIR
 * --socket S --root R --runroot RR` and waits until Version answers.
 * @throws Error carrying the log's tail when it exits or does not answer in `readyMs`
 */
export async function startPeapod(opts: {
  configFile: string;
  configDir: string;
  socket: string;
  root: string;
  runroot: string;
  logFile: string;
  logLevel?: string;
  readyMs?: number;
}): Promise<PeapodProcess> {
  const log = fs.openSync(opts.logFile, 'a');
  const args = [PEAPOD_CRI_MAIN, '--config', opts.configFile, '--config-dir', opts.configDir, '--socket', opts.socket, '--root', opts.root, '--runroot', opts.runroot];
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const client = connectCri(opts.socket);
  const proc: PeapodProcess = {
    socket: opts.socket,
    child,
    client,
    logFile: opts.logFile,
    async stop(graceMs = 15_000) {
      client.close();
      if (!exited(child)) child.kill('SIGTERM');
      if (!(await waitExit(child, graceMs))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
      return child.exitCode;
    },
  };
  const tail = (): string => fs.readFileSync(opts.logFile, 'utf8').split('\n').slice(-30).join('\n');
  const deadline = Date.now() + (opts.readyMs ?? 20_000);
  for (;;) {
    if (exited(child)) {
      client.close();
      throw new Error(`peapod-cri exited early (code ${child.exitCode}); log ${opts.logFile}:\n${tail()}`);
    }
    try {
      await client.runtime.Version({}, { deadline: Date.now() + 1000 });
      return proc;
    } catch {
      if (Date.now() > deadline) {
        await proc.stop(2000);
        throw new Error(`peapod-cri did not answer Version in time; log ${opts.logFile}:\n${tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
