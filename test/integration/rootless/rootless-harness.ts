/**
 * Runs peapod and other programs as an unprivileged user (the machine's
 * `pprootless`, uid 1001 with 100000:65536 in /etc/subuid and /etc/subgid,
 * or a user a test creates), each environment with its own HOME and
 * XDG_RUNTIME_DIR in temp dirs the user owns, so each has its own store and
 * its own user namespace holder. Programs run through `setpriv --reuid
 * --regid --init-groups` (util-linux) with a clean environment.
 *
 * Cleanup kills every process of the environment's user namespace (the
 * holder, and whatever the tests started in it), waits for them to be gone,
 * and removes the temp dirs.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive, ProcessIdentity } from '../../../src/common/host/proc';
import { HolderRecord, readHolderFile } from '../../../src/cli/rootless';

/** The repository root (dist/test/integration/rootless → ../../../..). */
export const REPO = path.resolve(__dirname, '..', '..', '..', '..');
/** The launcher (the `peapod` bin). */
export const LAUNCHER = path.join(REPO, 'bin', 'peapod');
/** The Node CLI itself. */
export const CLI_MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** A user of the host. */
export interface HostUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user from /etc/passwd; undefined when there is none. */
export function lookupUser(name: string): HostUser | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** The first subordinate ID free in both /etc/subuid and /etc/subgid, rounded up to a multiple of 65536 (at least 200000). */
export function freeSubordinateStart(): number {
  let end = 200000;
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [, start, count] = line.split(':');
      if (/^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? '')) end = Math.max(end, Number(start) + Number(count));
    }
  }
  return Math.ceil(end / 65536) * 65536;
}

/** A rootless test user with a subordinate range, and how to let it go. */
export interface TestUser {
  user: HostUser;
  /** Removes the user when the tests made it. */
  release(): void;
}

/**
 * The machine's rootless test user `pprootless` when it exists with a
 * subordinate range (uid 1001, 100000:65536 on the peapod machines),
 * else a user made for the tests with 65536 free subordinate IDs.
 */
export function rootlessTestUser(): TestUser {
  const u = lookupUser('pprootless');
  if (u && fs.readFileSync('/etc/subuid', 'utf8').split('\n').some((l) => l.startsWith('pprootless:') || l.startsWith(`${u.uid}:`))) return { user: u, release: () => undefined };
  const made = createTempUser({ start: freeSubordinateStart(), count: 65536 });
  return { user: made, release: () => made.remove() };
}

/** A user made for one test (no home, no login, no subordinate IDs unless given); `remove` deletes it. */
export interface TempUser extends HostUser {
  remove(): void;
}

/**
 * Creates a system user with a random name (`pptest` + 6 hex digits): no
 * home, no shell, no subordinate IDs unless `subids` names a range to add
 * to /etc/subuid and /etc/subgid.
 */
export function createTempUser(subids?: { start: number; count: number }): TempUser {
  const name = `pptest${Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name], { stdio: 'pipe' });
  if (subids) {
    const range = `${subids.start}-${subids.start + subids.count - 1}`;
    execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name], { stdio: 'pipe' });
  }
  const u = lookupUser(name)!;
  return {
    ...u,
    remove: () => {
      execFileSync('userdel', [name], { stdio: 'pipe' });
      for (const f of ['/etc/subuid', '/etc/subgid']) {
        const text = fs.readFileSync(f, 'utf8');
        const kept = text.split('\n').filter((l) => !l.startsWith(`${name}:`) && !l.startsWith(`${u.uid}:`)).join('\n');
        if (kept !== text) fs.writeFileSync(f, kept);
      }
    },
  };
}

/** What a program run wrote and how it ended. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of one run as the user. */
export interface RunOptions {
  /** Added to (or replacing) the environment's variables. */
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Default: the environment's home. */
  cwd?: string;
  /** Default 60 s; the run is killed and rejected after it. */
  timeoutMs?: number;
}

/** A user's private environment. */
export interface RootlessEnv {
  user: HostUser;
  /** The user's HOME for these runs (temp, the user's). */
  home: string;
  /** Its XDG_RUNTIME_DIR (`<home>/run`, 0700), or undefined when the environment has none. */
  runtimeDir: string | undefined;
  /** The variables every run gets. */
  env: NodeJS.ProcessEnv;
  /** Runs `peapod ARGS` as the user, by the launcher (default) or by `node main.js`. */
  peapod(args: string[], options?: RunOptions & { via?: 'launcher' | 'node' }): Running;
  /** Runs any program as the user. */
  exec(file: string, args: string[], options?: RunOptions): Running;
  /** The holder file of the environment (`<runtime dir>/peapod/userns.pid`). */
  holderFile(): string;
  /** The recorded holder, when there is one. */
  holder(): HolderRecord | undefined;
  /** Kills every process of the environment's user namespace and removes the temp dirs. */
  cleanup(): Promise<void>;
}

/** The pids of every process in the user namespace of `pid` (inode of /proc/PID/ns/user). */
export function processesInUserNamespaceOf(pid: number): number[] {
  let ino: number;
  try {
    ino = fs.statSync(`/proc/${pid}/ns/user`).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.statSync(`/proc/${e}/ns/user`).ino === ino) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Waits for `cond`, polling every 20 ms; throws naming `what` after the deadline. */
export async function waitFor(cond: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Kills the holder and everything in its namespace, and waits until they are gone. */
export async function killNamespace(holder: ProcessIdentity | undefined): Promise<void> {
  if (!holder || !isProcessAlive(holder)) return;
  const pids = processesInUserNamespaceOf(holder.pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await waitFor(() => pids.every((p) => !fs.existsSync(`/proc/${p}/ns`)), `the processes of user namespace holder ${holder.pid} to exit`);
}

/** A run in progress: its result, and the pid of the program (setpriv execs it). */
export type Running = Promise<RunResult> & { pid: number };

/** Runs `file args` as `user` (setpriv), collecting output. */
export function runAs(user: HostUser, file: string, args: string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Running {
  let pid = 0;
  const result = new Promise<RunResult>((resolve, reject) => {
    const child = spawn('/usr/bin/setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', file, ...args], {
      env: { ...env, ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    pid = child.pid ?? 0;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} (as ${user.name}) did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
  return Object.assign(result, { pid });
}

/**
 * A private environment for `user`: HOME in a fresh temp dir it owns,
 * XDG_RUNTIME_DIR `<home>/run` (0700) unless `runtimeDir` is false.
 */
export function makeRootlessEnv(user: HostUser, options: { runtimeDir?: boolean } = {}): RootlessEnv {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rootless-'));
  fs.chmodSync(home, 0o755);
  fs.chownSync(home, user.uid, user.gid);
  let runtimeDir: string | undefined;
  if (options.runtimeDir !== false) {
    runtimeDir = path.join(home, 'run');
    fs.mkdirSync(runtimeDir, { mode: 0o700 });
    fs.chownSync(runtimeDir, user.uid, user.gid);
  }
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    USER: user.name,
    LOGNAME: user.name,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...(runtimeDir ? { XDG_RUNTIME_DIR: runtimeDir } : {}),
  };
  const holderFile = (): string => path.join(runtimeDir ?? `/tmp/peapod-run-${user.uid}`, 'peapod', 'userns.pid');
  const self: RootlessEnv = {
    user,
    home,
    runtimeDir,
    env,
    peapod: (args, o = {}) => (o.via === 'node' ? runAs(user, process.execPath, [CLI_MAIN, ...args], env, { cwd: home, ...o }) : runAs(user, LAUNCHER, args, env, { cwd: home, ...o })),
    exec: (file, args, o = {}) => runAs(user, file, args, env, { cwd: home, ...o }),
    holderFile,
    holder: () => readHolderFile(holderFile()),
    async cleanup() {
      await killNamespace(self.holder());
      fs.rmSync(home, { recursive: true, force: true });
      if (!runtimeDir) fs.rmSync(`/tmp/peapod-run-${user.uid}`, { recursive: true, force: true });
    },
  };
  return self;
}
