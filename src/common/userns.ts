/**
 * User namespaces for rootless peapod (user_namespaces(7)): the ID ranges a
 * user may map (subuid(5), subgid(5)), the mapping peapod asks for (the
 * user's own ID as 0 inside, then the subordinate ranges from 1), the
 * current process's mapping, whether the kernel lets an unprivileged user
 * make namespaces at all, and the long-lived process that holds one user
 * and mount namespace for all of a user's peapod commands (Podman's pause
 * process).
 *
 * Node has no unshare(2) or setns(2) (and setns into a user namespace needs
 * a single-threaded caller, which Node never is), so namespaces are made and
 * joined by util-linux `unshare` and `nsenter`:
 *
 *   peapod (host ids)            holder (`unshare --user --mount … sh`)
 *   ── spawn ───────────────────► unshare(2), then sh prints "ready", waits
 *   ◄───────────────── "ready" ──
 *   newuidmap PID 0 UID 1 1 SUB N   (Debian `uidmap`: setuid helpers that
 *   newgidmap PID 0 GID 1 1 SUB N    check /etc/subuid and /etc/subgid)
 *   ── "go" ────────────────────► exec sleep infinity   (holds the namespaces)
 *   nsenter -t PID -U -m --preserve-credentials -- peapod …   (every command)
 *
 * which is the pipe-synchronised child of Podman's re-exec, with the maps
 * written from outside by the setuid helpers. Without a subordinate range
 * the holder gets a single-ID mapping (the user as 0), written directly to
 * /proc/PID/uid_map, which needs no helper.
 */
import * as fs from 'node:fs';
import { PeapodError } from './errors';
import { type HostProcess, runHostCommand, spawnHostProcess } from './host/command';
import { isProcessAlive, killProcess, processStartTime, ProcessIdentity } from './host/proc';
import { findProgram } from './host/programs';

/** One line of /proc/PID/uid_map or gid_map: `count` IDs from `outside` (the parent namespace) appear as `inside`, `inside+1`, …. */
export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

/** The user and group ID maps of a user namespace. */
export interface IdMapping {
  uids: IdRange[];
  gids: IdRange[];
}

/** A subordinate ID range of subuid(5)/subgid(5): `count` IDs from `start`. */
export interface SubordinateRange {
  start: number;
  count: number;
}

/** A user as subuid(5) names one: by login name or by numeric ID. */
export interface IdOwner {
  name?: string;
  id: number;
}

/** The largest ID plus one (IDs are 32-bit; 4294967295 is the invalid ID). */
const ID_LIMIT = 4294967295;
/** Lines the kernel accepts in one uid_map (since Linux 4.15). */
export const MAX_ID_MAP_LINES = 340;
/** Bytes of /etc/subuid read at most. */
const MAX_SUBID_FILE_BYTES = 4 * 1024 * 1024;

/** The host cannot give this user a user namespace; the message names the missing piece. */
export class UserNamespaceError extends PeapodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WRONG_STATE', message, options);
    this.name = 'UserNamespaceError';
  }
}

/**
 * The ranges subuid(5)-format `text` gives to `owner` (lines
 * `NAME:START:COUNT` or `UID:START:COUNT`; blank lines and `#` comments
 * skipped; malformed lines, zero counts and ranges past the 32-bit ID space
 * ignored), in file order.
 */
export function parseSubordinateIds(text: string, owner: IdOwner): SubordinateRange[] {
  const out: SubordinateRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(':');
    if (parts.length !== 3) continue;
    const [who, startText, countText] = parts;
    if (who !== owner.name && who !== String(owner.id)) continue;
    if (!/^\d+$/.test(startText) || !/^\d+$/.test(countText)) continue;
    const start = Number(startText);
    const count = Number(countText);
    if (count === 0 || start + count > ID_LIMIT) continue;
    out.push({ start, count });
  }
  return out;
}

/**
 * The ranges of `owner` in a subuid(5)-format file (/etc/subuid or
 * /etc/subgid); [] when the file does not exist.
 * @throws Error when the file exists but cannot be read or is over 4 MiB.
 */
export function readSubordinateIds(file: string, owner: IdOwner): SubordinateRange[] {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.size > MAX_SUBID_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_SUBID_FILE_BYTES} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseSubordinateIds(text, owner);
}

/**
 * The map peapod asks for: `hostId` as 0 inside, then each subordinate
 * range in turn from 1 (Podman's layout), so a user with the usual
 * 100000:65536 gets IDs 0 to 65536 inside. Ranges holding `hostId` itself
 * are skipped (the kernel refuses overlapping extents), and at most
 * MAX_ID_MAP_LINES lines are made.
 */
export function rootlessIdMap(hostId: number, ranges: readonly SubordinateRange[]): IdRange[] {
  const out: IdRange[] = [{ inside: 0, outside: hostId, count: 1 }];
  let next = 1;
  for (const r of ranges) {
    if (out.length >= MAX_ID_MAP_LINES) break;
    if (hostId >= r.start && hostId < r.start + r.count) continue;
    const count = Math.min(r.count, ID_LIMIT - next);
    if (count <= 0) break;
    out.push({ inside: next, outside: r.start, count });
    next += count;
  }
  return out;
}

/** True when the map has only the user's own ID (no subordinate range). */
export function isSingleIdMap(map: readonly IdRange[]): boolean {
  return map.length === 1 && map[0].count === 1;
}

/** Parses /proc/PID/uid_map (or gid_map) text: lines of three numbers. */
export function parseIdMap(text: string): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !f.every((x) => /^\d+$/.test(x))) continue;
    out.push({ inside: Number(f[0]), outside: Number(f[1]), count: Number(f[2]) });
  }
  return out;
}

/** The text the kernel takes for a uid_map (`inside outside count` per line). */
export function formatIdMap(map: readonly IdRange[]): string {
  return map.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join('');
}

/** The ID of `outside` IDs that `inside` stands for, through `map`; undefined when it is not mapped. */
export function hostIdOf(inside: number, map: readonly IdRange[]): number | undefined {
  for (const r of map) if (inside >= r.inside && inside < r.inside + r.count) return r.outside + (inside - r.inside);
  return undefined;
}

/** The inside ID that host ID `outside` appears as through `map`; undefined when it is not mapped. */
export function insideIdOf(outside: number, map: readonly IdRange[]): number | undefined {
  for (const r of map) if (outside >= r.outside && outside < r.outside + r.count) return r.inside + (outside - r.outside);
  return undefined;
}

/** Describes a map for messages: `0-65536 (host 1001, 100000-165535)`. */
export function describeIdMap(map: readonly IdRange[]): string {
  if (map.length === 0) return 'none';
  const total = map.reduce((n, r) => n + r.count, 0);
  const outside = map.map((r) => (r.count === 1 ? `${r.outside}` : `${r.outside}-${r.outside + r.count - 1}`)).join(', ');
  return `${total === 1 ? '0' : `0-${total - 1}`} (host ${outside})`;
}

/** The uid and gid maps of process `pid` (default: this one), as this process sees them. */
export function readIdMapping(pid: number | 'self' = 'self'): IdMapping {
  return {
    uids: parseIdMap(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8')),
    gids: parseIdMap(fs.readFileSync(`/proc/${pid}/gid_map`, 'utf8')),
  };
}

/** True for the initial user namespace's map, `0 0 4294967295`. */
export function isInitialIdMap(map: readonly IdRange[]): boolean {
  return map.length === 1 && map[0].inside === 0 && map[0].outside === 0 && map[0].count === ID_LIMIT;
}

let cachedInUserNs: boolean | undefined;

/**
 * True when this process runs in a user namespace other than the initial
 * one (as runc's and containers/storage's RunningInUserNS decide: by
 * /proc/self/uid_map). Then trusted.* attributes and device nodes are out
 * of reach, and overlayfs needs `userxattr`. Read once per process.
 */
export function inUserNamespace(): boolean {
  if (cachedInUserNs === undefined) {
    try {
      cachedInUserNs = !isInitialIdMap(parseIdMap(fs.readFileSync('/proc/self/uid_map', 'utf8')));
    } catch {
      cachedInUserNs = false; // no /proc/self/uid_map: a kernel without user namespaces
    }
  }
  return cachedInUserNs;
}

/** Reads a small sysctl file under `proc`; undefined when absent. */
function sysctl(proc: string, name: string): string | undefined {
  try {
    return fs.readFileSync(`${proc}/sys/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Why the kernel would refuse an unprivileged user a user namespace, by
 * the settings that decide it: no user namespace support at all
 * (CONFIG_USER_NS), `user.max_user_namespaces` 0, Debian's
 * `kernel.unprivileged_userns_clone` 0, Ubuntu's AppArmor restriction
 * `kernel.apparmor_restrict_unprivileged_userns` 1.
 * @param proc where procfs is (tests pass a directory of their own)
 * @returns the reason naming the setting and how to change it, or undefined when none forbids it.
 */
export function userNamespaceRefusal(proc = '/proc'): string | undefined {
  if (!fs.existsSync(`${proc}/self/ns/user`)) return 'the kernel has no user namespaces (built without CONFIG_USER_NS)';
  if (sysctl(proc, 'user/max_user_namespaces') === '0') {
    return 'user namespaces are disabled: sysctl user.max_user_namespaces is 0 (as root: sysctl -w user.max_user_namespaces=15000)';
  }
  if (sysctl(proc, 'kernel/unprivileged_userns_clone') === '0') {
    return 'unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone is 0 (as root: sysctl -w kernel.unprivileged_userns_clone=1)';
  }
  if (sysctl(proc, 'kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns is 1 (as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing userns for node)';
  }
  return undefined;
}

/** How the namespace holder is made. */
export interface UserNamespaceHolderOptions {
  /** The maps to give it (see rootlessIdMap). */
  mapping: IdMapping;
  /** PATH to find unshare, newuidmap and newgidmap in (default: this process's). */
  pathEnv?: string;
  /** How long making it may take, in ms (default 10 s). */
  timeoutMs?: number;
  /** Where procfs is, for the diagnosis of a refusal (default /proc). */
  proc?: string;
}

/**
 * The holder's program: tell the parent the namespaces exist, wait for the
 * maps, then become `sleep infinity` (with the maps in place, exec makes
 * it root of the namespace with all its capabilities), detached from every
 * pipe.
 */
const HOLDER_SCRIPT = 'echo ready; read go || exit 1; [ "$go" = go ] || exit 1; exec sleep infinity </dev/null >/dev/null 2>&1';

/** Waits for `ready\n` on the child's stdout; rejects on exit, error or deadline with what it wrote to stderr. */
function waitReady(child: HostProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    // Settles once: the process's listeners stay (a HostProcess has no `off`) but are inert afterwards.
    let settled = false;
    const done = (e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      if (e) reject(e);
      else resolve();
    };
    const onOut = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('ready\n')) done();
      else if (out.length > 1024) done(new Error(`unexpected output: ${out.slice(0, 200)}`));
    };
    const onExit = (code: number | null, signal: string | null): void => done(new Error(err.trim() || `exited (${signal ?? `code ${code}`}) before the namespace was made`));
    const onError = (e: Error): void => done(e);
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 4096) err += d.toString();
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Writes a single-ID map directly: allowed to the namespace's owner for its own ID once setgroups is denied. */
function writeSingleIdMaps(pid: number, mapping: IdMapping): void {
  fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny\n');
  fs.writeFileSync(`/proc/${pid}/uid_map`, formatIdMap(mapping.uids));
  fs.writeFileSync(`/proc/${pid}/gid_map`, formatIdMap(mapping.gids));
}

/**
 * Makes the long-lived process that holds a new user namespace and a mount
 * namespace owned by it (mounts propagate in from the host as slaves, none
 * go out), with the given maps written from outside: by newuidmap and
 * newgidmap (Debian `uidmap`) when a map has subordinate ranges, directly
 * for a single-ID map. It runs in its own session with `/` as its working
 * directory and lives until killed; every later command joins it
 * (`nsenterArgs`).
 *
 * @returns its pid and start time (the identity to record and check).
 * @throws UserNamespaceError naming the missing piece: user namespaces
 *   refused by a sysctl, newuidmap or newgidmap not installed, or their
 *   refusal (e.g. a range not allowed by /etc/subuid), or unshare's own
 *   error. Nothing is left running after a failure.
 */
export async function startUserNamespaceHolder(options: UserNamespaceHolderOptions): Promise<ProcessIdentity> {
  const pathEnv = options.pathEnv ?? process.env.PATH ?? '';
  const single = isSingleIdMap(options.mapping.uids) && isSingleIdMap(options.mapping.gids);
  const refusal = userNamespaceRefusal(options.proc);
  if (refusal) throw new UserNamespaceError(refusal);
  const unshare = findProgram('unshare', pathEnv);
  if (!unshare) throw new UserNamespaceError('unshare not found in PATH: install the util-linux package');
  let helpers: { uid: string; gid: string } | undefined;
  if (!single) {
    const uid = findProgram('newuidmap', pathEnv);
    const gid = findProgram('newgidmap', pathEnv);
    if (!uid || !gid) {
      throw new UserNamespaceError(`${!uid ? 'newuidmap' : 'newgidmap'} not found in PATH: mapping the subordinate IDs of /etc/subuid and /etc/subgid needs it (install the uidmap package)`);
    }
    helpers = { uid, gid };
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawnHostProcess(unshare, ['--user', '--mount', '--propagation', 'slave', '--', '/bin/sh', '-c', HOLDER_SCRIPT], {
    detached: true,
    cwd: '/',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: pathEnv },
  });
  const fail = (message: string, cause?: unknown): never => {
    if (child.pid !== undefined) killProcess(child.pid, 'SIGKILL');
    throw new UserNamespaceError(message, { cause });
  };
  try {
    await waitReady(child, timeoutMs);
  } catch (err) {
    const why = (err as Error).message;
    const refused = userNamespaceRefusal(options.proc);
    fail(`cannot create a user namespace: ${refused ?? why}`, err);
  }
  const pid = child.pid!;
  try {
    if (helpers) {
      const args = (m: IdRange[]): string[] => [String(pid), ...m.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)])];
      await runHostCommand(helpers.uid, args(options.mapping.uids), { timeoutMs, env: { PATH: pathEnv } });
      await runHostCommand(helpers.gid, args(options.mapping.gids), { timeoutMs, env: { PATH: pathEnv } });
    } else {
      writeSingleIdMaps(pid, options.mapping);
    }
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    fail(`cannot map the IDs ${describeIdMap(options.mapping.uids)} into the user namespace: ${detail}`, err);
  }
  const startTime = processStartTime(pid);
  if (startTime === undefined) fail('the user namespace holder exited before it was set up');
  child.stdin?.on('error', () => undefined);
  child.stdin?.end('go\n');
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
  return { pid, startTime: startTime! };
}

/**
 * The inode of the user namespace process `pid` is in (the identity of the
 * namespace: /proc/PID/ns/user); undefined when the process is gone.
 */
export function userNamespaceInode(pid: number | 'self'): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}/ns/user`).ino;
  } catch {
    return undefined;
  }
}

/**
 * A live process of host user `uid` in the user namespace with inode `ino`
 * (a container's monitor or process that outlived the namespace's holder);
 * undefined when none is left. Walks /proc: for the rare recovery of a dead
 * holder, not for every command.
 */
export function findUserNamespaceMember(ino: number, uid: number): number | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.statSync(`/proc/${e}/ns/user`).ino !== ino) continue;
      const status = fs.readFileSync(`/proc/${e}/status`, 'utf8');
      if (/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] === String(uid) && !/^State:\s+Z/m.test(status)) return Number(e);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/**
 * Makes a new holder inside the user and mount namespaces of `member` (a
 * process still in them), so a namespace whose holder died keeps its mounts
 * and stays the one every command joins: `nsenter -t MEMBER -U -m
 * --preserve-credentials -- sh` that becomes `sleep infinity`, detached.
 * @returns the new holder's identity.
 * @throws UserNamespaceError when nsenter cannot join (the member is gone, or not the caller's).
 */
export async function adoptUserNamespace(member: number, options: { pathEnv?: string; timeoutMs?: number } = {}): Promise<ProcessIdentity> {
  const pathEnv = options.pathEnv ?? process.env.PATH ?? '';
  const nsenter = findProgram('nsenter', pathEnv);
  if (!nsenter) throw new UserNamespaceError('nsenter not found in PATH: install the util-linux package');
  const child = spawnHostProcess(nsenter, nsenterArgs({ pid: member, startTime: '' }, '/', ['/bin/sh', '-c', 'echo ready; exec sleep infinity </dev/null >/dev/null 2>&1']), {
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: pathEnv },
  });
  try {
    await waitReady(child, options.timeoutMs ?? 10_000);
  } catch (err) {
    if (child.pid !== undefined) killProcess(child.pid, 'SIGKILL');
    throw new UserNamespaceError(`cannot join the user namespace of process ${member}: ${(err as Error).message}`, { cause: err });
  }
  const startTime = processStartTime(child.pid!);
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
  if (startTime === undefined) throw new UserNamespaceError(`the user namespace holder made in the namespace of process ${member} exited`);
  return { pid: child.pid!, startTime };
}

/**
 * True when `holder` still runs and holds a user namespace other than this
 * process's (a reused pid, a dead holder, or the holder of the namespace we
 * are already in all say no).
 */
export function holderUsable(holder: ProcessIdentity): boolean {
  if (!isProcessAlive(holder)) return false;
  try {
    return fs.statSync(`/proc/${holder.pid}/ns/user`).ino !== fs.statSync('/proc/self/ns/user').ino;
  } catch {
    return false;
  }
}

/**
 * The nsenter(1) arguments that run `command` in the holder's user and
 * mount namespaces, as root of the namespace (the caller's credentials
 * kept: its host ID is 0 there), in working directory `cwd` (joining a mount
 * namespace would otherwise leave it at `/`).
 */
export function nsenterArgs(holder: ProcessIdentity, cwd: string, command: readonly string[]): string[] {
  return ['--target', String(holder.pid), '--user', '--mount', '--preserve-credentials', `--wd=${cwd}`, '--', ...command];
}
