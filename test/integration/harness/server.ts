import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCri, CriClient, waitForCri } from './client';

/** Path of the built peapod-cri entry point. */
export const PEAPOD_CRI_MAIN = path.resolve(__dirname, '..', '..', '..', 'src', 'server', 'main.js');

/** Options for a test server. */
export interface TestServerOptions {
  /** TOML text of the main config file; root/runroot/socket are set by the harness. */
  config?: string;
  /** Drop-in files by name (written to a temp config dir). */
  dropIns?: Record<string, string>;
  /** Extra command-line arguments. */
  args?: string[];
  /** Reuse this temp directory (e.g. to restart a server on the same state). */
  dir?: string;
  /** Milliseconds to wait for Version to answer. */
  readyTimeoutMs?: number;
}

/** A running peapod-cri child process with its temp directories and a client. */
export interface TestServer {
  /** Temp directory holding root/, runroot/, conf/, the socket and the log. */
  dir: string;
  socket: string;
  root: string;
  runroot: string;
  configFile: string;
  configDir: string;
  child: ChildProcess;
  client: CriClient;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM and waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILLs the server (state stays for a restart). */
  kill(): Promise<void>;
  /** Stops the server if running and deletes the temp directory. */
  cleanup(): Promise<void>;
}

/** Resolves when `child` exits, with its exit code. */
export function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Starts a real peapod-cri as a child process on a temp socket with temp
 * root and runroot, and waits until Version answers.
 * @throws when the server exits early or does not answer in time (the
 *   message carries its stderr).
 */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-test-'));
  const socket = path.join(dir, 'peapod.sock');
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'runroot');
  const configFile = path.join(dir, 'peapod.conf');
  const configDir = path.join(dir, 'peapod.conf.d');
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(configFile, options.config ?? '');
  for (const [name, text] of Object.entries(options.dropIns ?? {})) fs.writeFileSync(path.join(configDir, name), text);

  const child = spawn(
    process.execPath,
    [PEAPOD_CRI_MAIN, '--config', configFile, '--config-dir', configDir, '--socket', socket, '--root', root, '--runroot', runroot, ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', () => undefined);
  const client = connectCri(socket);

  const server: TestServer = {
    dir,
    socket,
    root,
    runroot,
    configFile,
    configDir,
    child,
    client,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return waitExit(child);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitExit(child);
    },
    async cleanup() {
      client.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const ready = await waitForCri(client, () => child.exitCode !== null || child.signalCode !== null, options.readyTimeoutMs ?? 20_000);
  if (ready === 'exited') {
    client.close();
    throw new Error(`peapod-cri exited early (code ${child.exitCode}):\n${stderr}`);
  }
  if (ready === 'timeout') {
    await server.cleanup();
    throw new Error(`peapod-cri did not answer Version in time:\n${stderr}`);
  }
  return server;
}
