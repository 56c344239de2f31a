/**
 * The spawn server (common/host/spawner.ts) for CLI commands that start
 * several host programs: `run --rm` starts about nine (unshare, mount,
 * conmon, runc, umount...), each forked by Node from a CLI process of
 * 50-60 MB, which copies its page tables on the event loop (3-10 ms a fork
 * on a quiet machine, far more under load). With the spawn server the CLI
 * forks once, the small helper, and the helper forks the rest.
 *
 * It is started in the background as the command begins, so the fork and
 * the helper's start overlap the command's own start (modules, databases);
 * host programs started before it is ready are forked by Node as before. It
 * ends with the CLI (the helper exits at the end of its input; the programs
 * it started are not touched). PEAPOD_SPAWNER=0 turns it off, as for
 * peapod-cri.
 */
import type { Logger } from '../common/logger';

/** Commands (their path below `peapod`) that start enough host programs for the spawn server to pay. */
const MANY_HOST_PROGRAMS = new Set([
  'run',
  'create',
  'start',
  'stop',
  'restart',
  'rm',
  'container run',
  'container create',
  'container start',
  'container stop',
  'container restart',
  'container rm',
  'container cleanup',
  'pod create',
  'pod start',
  'pod stop',
  'pod restart',
  'pod rm',
  'system prune',
]);

/**
 * Whether the command at `commandPath` (e.g. ['pod', 'rm']) with its parsed
 * `flags` starts the spawn server. Not `pod create --network none|host`:
 * its one host program is the namespace pinner (peapod-pinns), and the
 * helper would cost a fork of this process itself, plus its start.
 */
export function usesSpawnServer(commandPath: readonly string[], flags: { network?: unknown; net?: unknown } = {}): boolean {
  const command = commandPath.join(' ');
  if (command === 'pod create' && ['none', 'host'].includes(String(flags.net ?? flags.network))) return false;
  return MANY_HOST_PROGRAMS.has(command);
}

/**
 * Starts the spawn server in the background when the command is one of
 * those above (usesSpawnServer, with the command's parsed `flags`) and PEAPOD_SPAWNER is not 0; a helper that cannot start is
 * logged (debug) and the command forks its programs itself.
 */
export function startSpawnServerFor(commandPath: readonly string[], log: Logger, flags: { network?: unknown; net?: unknown } = {}): void {
  if (process.env.PEAPOD_SPAWNER === '0' || !usesSpawnServer(commandPath, flags)) return;
  const { startSpawnServer } = require('../common/host/command') as typeof import('../common/host/command');
  startSpawnServer(undefined, { onExit: (why) => log.debug({ why }, 'peapod-spawner ended') }).then(
    (used) => used || log.debug('peapod-spawner is not built: host programs are forked by the CLI'),
    (err: unknown) => log.debug({ err }, 'peapod-spawner did not start: host programs are forked by the CLI'),
  );
}
