/**
 * What conmon runs when a CLI container exits, so its exit is recorded and
 * `--rm` honoured with no CLI process left watching (Podman has conmon run
 * `podman container cleanup`): `peapod container cleanup ID`, with the
 * global flags that name this store and configuration.
 *
 * It runs through a few lines of /bin/sh, which set PATH (conmon gives the
 * exit command no environment) and, when a CLI process is attached and
 * handling the exit itself (`run` in the foreground, `start -a`), skip the
 * cleanup while that process lives: it is recognised by pid and kernel start
 * time, so a reused pid is not taken for it. A foreground `run --rm true`
 * then costs no second Node process; a detached container, or one whose
 * attached CLI was killed, is cleaned up by the exit command.
 */
import * as path from 'node:path';
import type { ProcessIdentity } from '../../common/host/proc';
import type { GlobalOptions, PeapodConfig } from '../config';

/** PATH for the cleanup (the host tools: mount, umount, nsenter, iptables for CNI). */
const CLEANUP_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The absolute path of the CLI's entry point (dist/src/cli/main.js). */
export function cliMainPath(): string {
  return path.resolve(__dirname, '..', 'main.js');
}

/**
 * The global flags that make a later `peapod` process see this store:
 * root and runroot as resolved, the configuration files as given.
 */
export function globalArgs(config: PeapodConfig, globals: GlobalOptions): string[] {
  const out = ['--root', path.resolve(config.root), '--runroot', path.resolve(config.runroot)];
  if (globals.config) out.push('--config', path.resolve(globals.config));
  if (globals.configDir) out.push('--config-dir', path.resolve(globals.configDir));
  return out;
}

/**
 * The exit command of container `id` (ConmonCreateOptions.exitCommand).
 * @param attached the CLI process that handles this exit itself while it
 *   lives (absent: always clean up)
 */
export function exitCommand(config: PeapodConfig, globals: GlobalOptions, id: string, attached?: ProcessIdentity): string[] {
  return [
    '/bin/sh',
    '-c',
    EXIT_SCRIPT,
    'peapod-exit',
    String(attached?.pid ?? 0),
    attached?.startTime ?? '0',
    process.execPath,
    cliMainPath(),
    ...globalArgs(config, globals),
    'container',
    'cleanup',
    id,
  ];
}

/**
 * The script: skip when the attached process (pid `$1`, start time `$2`)
 * is alive and not a zombie; else exec the rest of the arguments.
 */
export const EXIT_SCRIPT = [
  `PATH=${CLEANUP_PATH}; export PATH`,
  'pid=$1; start=$2; shift 2',
  'alive() {',
  '  read -r line 2>/dev/null < "/proc/$pid/stat" || return 1',
  '  set -- ${line##*) }',
  '  [ "$1" != Z ] && [ "$1" != X ] && [ "${20}" = "$start" ]',
  '}',
  'if [ "$pid" != 0 ] && alive; then exit 0; fi',
  'exec "$@"',
].join('\n');

