/**
 * Runs the built `peapod` CLI (dist/src/cli/main.js) as a child process on a
 * private root, runroot and configuration (no system file is read): the
 * configuration points registries.conf at an empty file in the temp dir.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Path of the CLI entry point in dist/. */
export const CLI_MAIN = path.resolve(__dirname, '..', '..', '..', 'src', 'cli', 'main.js');

/** The result of one CLI run. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A private environment for CLI runs. */
export interface CliEnv {
  dir: string;
  root: string;
  runroot: string;
  /** The CLI's CNI configuration directory (config key network.cli_conf_dir), empty at first. */
  cniConfDir: string;
  /** The registry auth file (passed as REGISTRY_AUTH_FILE unless a test overrides env). */
  authFile: string;
  /** The global flags naming root, runroot and the private config. */
  globalArgs: string[];
  /** Runs `peapod <args>`; resolves when it exits (rejects after `timeoutMs`, default 60 s). */
  run(args: string[], options?: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  /** Starts `peapod <args>` without waiting: the child (stdio piped) and its result once it exits. */
  start(args: string[], options?: { env?: NodeJS.ProcessEnv }): { child: ChildProcess; done: Promise<CliResult> };
  /** Removes the temp dir. */
  cleanup(): void;
}

/** Makes a temp dir with root, runroot, a config file and an empty registries.conf. */
export function makeCliEnv(extraToml = ''): CliEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cli-'));
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'run');
  const confDir = path.join(dir, 'peapod.conf.d');
  fs.mkdirSync(confDir);
  // The CLI's own CNI directory, private to this environment (empty: the CLI writes its default network there).
  const cniConfDir = path.join(dir, 'cni', 'net.d');
  fs.writeFileSync(path.join(confDir, '00-cli-network.conf'), `[network]\ncli_conf_dir = "${cniConfDir}"\n`);
  const registriesConf = path.join(dir, 'registries.conf');
  fs.writeFileSync(registriesConf, '');
  fs.mkdirSync(path.join(dir, 'registries.conf.d'));
  const config = path.join(dir, 'peapod.conf');
  fs.writeFileSync(config, `[image]\nregistries_conf = "${registriesConf}"\nregistries_conf_dir = "${path.join(dir, 'registries.conf.d')}"\n${extraToml}`);
  const authFile = path.join(dir, 'auth.json');
  const globalArgs = ['--root', root, '--runroot', runroot, '--config', config, '--config-dir', confDir];
  return {
    dir,
    root,
    runroot,
    cniConfDir,
    authFile,
    globalArgs,
    run(args, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI_MAIN, ...globalArgs, ...args], {
          env: options.env ?? { ...process.env, REGISTRY_AUTH_FILE: authFile },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`peapod ${args.join(' ')} did not exit within ${options.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
        }, options.timeoutMs ?? 60_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        child.stdin.on('error', () => undefined);
        child.stdin.end(options.input ?? '');
      });
    },
    start(args, options = {}) {
      const child = spawn(process.execPath, [CLI_MAIN, ...globalArgs, ...args], {
        env: options.env ?? { ...process.env, REGISTRY_AUTH_FILE: authFile },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin!.on('error', () => undefined);
      const done = new Promise<CliResult>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      return { child, done };
    },
    cleanup() {
      // A test that failed half-way may leave mounts (rootfs, namespace pins): detach them, never delete through them.
      const mounts = fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m) => m && m.startsWith(dir + '/'))
        .reverse();
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for `cond` (polling every 50 ms) with a deadline of `ms`, never a fixed sleep. @throws naming `what` when the deadline passes */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Connects to host:port, sends `send`, and returns what the server sent before closing (5 s of silence at most). */
export function fetchTcp(host: string, port: number, send = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let d = '';
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new Error(`timeout on ${host}:${port}`));
    });
    s.on('connect', () => s.end(send));
    s.on('data', (c) => (d += c.toString()));
    s.on('end', () => resolve(d));
    s.on('error', reject);
  });
}
