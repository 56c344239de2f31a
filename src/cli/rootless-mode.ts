/**
 * Whether this `peapod` process is rootless, and who its user is on the
 * host. A rootless command starts as the user (euid not 0) and re-executes
 * itself in the user's user namespace (rootless.ts), where it is uid 0: the
 * re-executed process knows it by USERNS_ENV and by its uid map, and finds
 * the user's host uid in that map (0 inside is the user outside).
 *
 * Loads nothing heavy: the outer process of every rootless command runs it,
 * and every command reads its configuration through it (config.ts). The
 * user-namespace code (common/userns.ts, which loads the host-command and
 * spawner modules) is required only once the marker says this process was
 * re-executed: a root command (`images`, `ps`) never loads it (loading
 * it, with Node's child_process under it, was 8-11 % of the CPU of
 * `images` and `ps` in node --cpu-prof).
 */

/** The user-namespace code, loaded on first use. */
function userns(): typeof import('../common/userns') {
  return require('../common/userns') as typeof import('../common/userns');
}

/** Set by the outer process for the re-executed one: `<holder pid>:<holder start time>`. */
export const USERNS_ENV = '_PEAPOD_USERNS';

/** True when this process was re-executed into the user's namespace (the marker is set and the uid map is not the host's). */
export function insideUserNamespace(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[USERNS_ENV]) && userns().inUserNamespace();
}

/** True for a rootless command: run by a user other than root, before or after the re-exec. */
export function isRootless(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.geteuid!() !== 0 || insideUserNamespace(env);
}

/** The user's uid and gid on the host (inside the namespace: what 0 maps to). */
export function hostIds(env: NodeJS.ProcessEnv = process.env): { uid: number; gid: number } {
  if (!insideUserNamespace(env)) return { uid: process.geteuid!(), gid: process.getegid!() };
  const { hostIdOf, readIdMapping } = userns();
  const m = readIdMapping();
  return { uid: hostIdOf(0, m.uids) ?? process.geteuid!(), gid: hostIdOf(0, m.gids) ?? process.getegid!() };
}
