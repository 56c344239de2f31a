/**
 * Rootless `peapod`: a command run by a user other than root re-executes
 * itself inside the user's user namespace, where the user is uid 0 and the
 * subordinate IDs of /etc/subuid and /etc/subgid are 1 to N, and where the
 * user's mounts (container root file systems, pinned namespaces) live in one
 * mount namespace shared by all of the user's peapod processes.
 *
 * Both namespaces are held by one long-lived process per user (Podman's
 * pause process; common/userns.ts makes it), recorded as `pid start-time
 * namespace-inode` in `<runroot>/userns.pid`. A command joins it with
 * nsenter; the first command (or the first after the holder died) makes it,
 * under a lock held by a `flock` child (the lock goes with that child, so a
 * killed peapod never leaves it taken), and re-reads the file under the
 * lock, so two commands starting at once end up in the same namespace. When
 * the holder died but processes of its namespace live on (containers and
 * their monitors), the new holder is made inside that namespace, so the
 * containers' mounts stay reachable (Podman joins a conmon for the same
 * reason).
 *
 * The outer process waits for the re-executed one, passes SIGTERM and
 * SIGHUP on (SIGINT and SIGQUIT from a terminal reach both: the outer one
 * ignores them) and exits as it did: with its code, or by its signal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { writeFileAtomic } from '../common/atomic-file';
import { type HostProcess, spawnHostProcess } from '../common/host/command';
import type { ProcessIdentity } from '../common/host/proc';
import { findProgram } from '../common/host/programs';
import {
  adoptUserNamespace,
  findUserNamespaceMember,
  holderUsable,
  IdMapping,
  isSingleIdMap,
  nsenterArgs,
  readIdMapping,
  readSubordinateIds,
  rootlessIdMap,
  startUserNamespaceHolder,
  userNamespaceInode,
  UserNamespaceError,
} from '../common/userns';
import { ensureRootlessRunroot, rootlessPaths, RootlessPaths } from './config';
import { CliError, EXIT_ENGINE } from './errors';
import { insideUserNamespace, USERNS_ENV } from './rootless-mode';
import { envDeferringExtraCa } from '../common/extra-ca-certs';

/** Commands that run as the user, outside the namespace: they touch no store and no container. */
const OUTSIDE_COMMANDS = new Set(['version', 'help', 'login', 'logout']);

/** The subordinate ID files (subuid(5), subgid(5)). */
export const SUBUID_FILE = '/etc/subuid';
export const SUBGID_FILE = '/etc/subgid';

/** How long taking the holder lock may wait for another command making the holder, in s. */
const LOCK_WAIT_S = 30;

/** True when a command (by its path in the table, e.g. `['image', 'ls']`) must run in the user namespace of a rootless user. */
export function needsUserNamespace(commandPath: readonly string[]): boolean {
  return !OUTSIDE_COMMANDS.has(commandPath[0] ?? '');
}

/** True when this process should re-execute itself in the user namespace before running a command. */
export function shouldReexec(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.geteuid!() !== 0 && !insideUserNamespace(env);
}

/**
 * The maps of a rootless user: its uid and gid as 0, then its ranges of
 * /etc/subuid and /etc/subgid (by name or uid). A user with no range gets
 * a single-ID map (see singleIdWarning).
 */
export function rootlessMapping(user: { name: string; uid: number; gid: number }, files = { subuid: SUBUID_FILE, subgid: SUBGID_FILE }): IdMapping {
  return {
    uids: rootlessIdMap(user.uid, readSubordinateIds(files.subuid, { name: user.name, id: user.uid })),
    gids: rootlessIdMap(user.gid, readSubordinateIds(files.subgid, { name: user.name, id: user.uid })),
  };
}

/**
 * The warning of a single-ID namespace (Podman's, made specific): what will
 * not work and what to add; undefined when the maps have subordinate IDs.
 */
export function singleIdWarning(mapping: IdMapping, userName: string): string | undefined {
  if (!isSingleIdMap(mapping.uids) && !isSingleIdMap(mapping.gids)) return undefined;
  return (
    `no subordinate IDs for ${userName} in ${SUBUID_FILE} and ${SUBGID_FILE}: using a single-ID user namespace (only uid and gid 0). ` +
    `Images with files owned by other users or groups cannot be pulled, and containers cannot switch to other users. ` +
    `Ask root to add a range, e.g. "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${userName}"`
  );
}

/** A recorded holder: its identity and, when known, the inode of its user namespace. */
export interface HolderRecord extends ProcessIdentity {
  userNamespace?: number;
}

/** The holder recorded in `file`: `pid start-time [namespace-inode]`; undefined when absent or malformed. */
export function readHolderFile(file: string): HolderRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\d+)(?: (\d+))?\n?$/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), startTime: m[2], ...(m[3] ? { userNamespace: Number(m[3]) } : {}) };
}

/**
 * Takes the exclusive lock on `file` by a `flock` child that holds it until
 * released (or until this process dies: the child then reads EOF and exits).
 * @returns the release function.
 * @throws UserNamespaceError when flock is missing or the lock is not had within LOCK_WAIT_S.
 */
async function takeLock(file: string): Promise<() => void> {
  const flock = findProgram('flock');
  if (!flock) throw new UserNamespaceError('flock not found in PATH: install the util-linux package');
  const child = spawnHostProcess(flock, ['--exclusive', '--timeout', String(LOCK_WAIT_S), file, '/bin/sh', '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked\n')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new UserNamespaceError(`flock: ${e.message}`)));
    child.once('exit', (code) => reject(new UserNamespaceError(`cannot lock ${file}${code === 1 ? ` within ${LOCK_WAIT_S} s: another peapod command holds it` : `: ${err.trim() || `flock exited with code ${code}`}`}`)));
  });
  return () => {
    child.stdin!.on('error', () => undefined);
    child.stdin!.end('\n');
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
  };
}

/**
 * The user's namespace holder: the recorded one when it still runs, else a
 * new one (made under the lock, and recorded before the lock is released).
 * @throws UserNamespaceError naming what is missing (see startUserNamespaceHolder); CliError for a runtime dir that is not private.
 */
export async function userNamespaceHolder(paths: RootlessPaths): Promise<ProcessIdentity> {
  const recorded = readHolderFile(paths.holderFile);
  if (recorded && holderUsable(recorded)) return recorded;
  ensureRootlessRunroot(paths);
  const release = await takeLock(paths.holderLock);
  try {
    const again = readHolderFile(paths.holderFile);
    if (again && holderUsable(again)) return again;
    const info = os.userInfo();
    const member = again?.userNamespace !== undefined ? findUserNamespaceMember(again.userNamespace, info.uid) : undefined;
    const holder = member !== undefined ? await adoptUserNamespace(member) : await startUserNamespaceHolder({ mapping: rootlessMapping({ name: info.username, uid: info.uid, gid: info.gid }) });
    const ino = userNamespaceInode(holder.pid);
    await writeFileAtomic(paths.holderFile, `${holder.pid} ${holder.startTime}${ino !== undefined ? ` ${ino}` : ''}\n`, 0o600);
    return holder;
  } finally {
    release();
  }
}

/**
 * Waits for a child that runs in the foreground on this process's terminal
 * and returns its exit code: SIGINT and SIGQUIT (which the terminal sends
 * to both) are left to the child, SIGTERM and SIGHUP sent to this process
 * are passed on; a death by signal is re-raised on this process (a signal
 * whose default is not to die gives 128 + its number).
 * @param file what the child runs (named in the error when it cannot start)
 */
export function waitForeground(child: HostProcess, file: string): Promise<number> {
  const forward = (sig: NodeJS.Signals): void => {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const ignore = (): void => undefined;
  const onTerm = (): void => forward('SIGTERM');
  const onHup = (): void => forward('SIGHUP');
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new CliError(`cannot run ${file}: ${e.message}`, EXIT_ENGINE)));
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      if (signal) {
        process.kill(process.pid, signal);
        // Not reached for a fatal signal; for one ignored by default, the shell's convention.
        resolve(128 + (os.constants.signals[signal] ?? 0));
        return;
      }
      resolve(code ?? EXIT_ENGINE);
    });
  });
}

/**
 * Runs this very command again inside the user's namespace
 * (`nsenter … -- node main.js ARGS`, stdio inherited, the working directory
 * kept) and returns its exit code.
 * @param argv the arguments after `node main.js`
 * @throws UserNamespaceError or CliError when the namespace cannot be had.
 */
export async function reexecInUserNamespace(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const nsenter = findProgram('nsenter', env.PATH);
  if (!nsenter) throw new UserNamespaceError('nsenter not found in PATH: install the util-linux package');
  const holder = await userNamespaceHolder(rootlessPaths(env));
  const self = [process.execPath, ...process.execArgv, process.argv[1], ...argv];
  const child = spawnHostProcess(nsenter, nsenterArgs(holder, process.cwd(), self), {
    stdio: 'inherit',
    env: { ...envDeferringExtraCa(env), [USERNS_ENV]: `${holder.pid}:${holder.startTime}` },
  });
  return waitForeground(child, nsenter);
}

/**
 * The warning for this process's namespace when it has a single-ID map
 * (printed by every command, as Podman does); undefined otherwise.
 */
export function namespaceWarning(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!insideUserNamespace(env)) return undefined;
  return singleIdWarning(readIdMapping(), env.USER || env.LOGNAME || 'this user');
}
