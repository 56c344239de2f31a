/**
 * Where the `peapod` CLI finds its configuration and its state: the one
 * place that reads peapod's configuration (src/common/config.ts) and
 * resolves paths (root, runroot, image storage, the registry auth file), so
 * rootless mode (issue 14) and the restructured config module change one file.
 *
 * With no flags the CLI reads the same /etc/peapod/peapod.conf (and its
 * drop-ins) as peapod-cri and so sees the same store.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig, PeapodConfig } from '../common/config';
import { CliError, EXIT_ENGINE } from './errors';

export type { PeapodConfig } from '../common/config';
export { DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE } from '../common/config';

/** The global flags every command takes (Podman's names). */
export interface GlobalOptions {
  /** Persistent state (config key `root`). */
  root?: string;
  /** State that lives until reboot (config key `runroot`). */
  runroot?: string;
  /** trace, debug, info, warn, error or fatal (default warn). */
  logLevel?: string;
  /** Main configuration file (default /etc/peapod/peapod.conf). */
  config?: string;
  /** Drop-in directory of `*.conf` files (default /etc/peapod/peapod.conf.d), as peapod-cri's flag. */
  configDir?: string;
}

/**
 * Loads the configuration exactly as peapod-cri does (schema defaults, the
 * main file, the drop-ins in lexical order, then `--root`/`--runroot`), so
 * both front ends agree on root and runroot. Default files that do not exist
 * are skipped; files named by flags must exist.
 * @throws CliError (exit 125) carrying the configuration error's message.
 */
export function loadCliConfig(g: GlobalOptions): PeapodConfig {
  try {
    return loadConfig({ configFile: g.config, configDir: g.configDir, overrides: { root: g.root, runroot: g.runroot } });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`configuration: ${err.message}`, EXIT_ENGINE);
    throw err;
  }
}

/** The image store's directory: `<root>/storage` (shared with peapod-cri). */
export function storageRoot(config: PeapodConfig): string {
  return path.join(config.root, 'storage');
}

/**
 * The CNI configuration directory of the CLI's bridge networks (config key
 * `network.cli_conf_dir`; see network.ts). peapod-cri reads
 * `network.cni_conf_dir` instead, so the two differ unless configured alike.
 */
export function cliNetworkConfDir(config: PeapodConfig): string {
  return path.resolve(config.network.cli_conf_dir);
}

/** The auth files of containers-auth.json(5): the one written, then the ones also read. */
export interface AuthFiles {
  /** Where login writes and logout edits; read first. */
  primary: string;
  /** Read after the primary file when a registry is not found there (only when no file was named explicitly). */
  fallbacks: { path: string; legacy: boolean }[];
  /** True when `--authfile` or REGISTRY_AUTH_FILE chose the primary file. */
  explicit: boolean;
}

/**
 * The registry auth files, as containers/image resolves them: `--authfile`,
 * else $REGISTRY_AUTH_FILE, else `${XDG_RUNTIME_DIR}/containers/auth.json`,
 * else (root without XDG_RUNTIME_DIR) `/run/containers/<uid>/auth.json`.
 * Unless a file was named, lookups then fall back to
 * `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
 * `${DOCKER_CONFIG:-~/.docker}/config.json` and `~/.dockercfg` (read only).
 */
export function authFiles(authfileFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): AuthFiles {
  const home = env.HOME || os.homedir();
  const named = authfileFlag || env.REGISTRY_AUTH_FILE;
  if (named) return { primary: path.resolve(named), fallbacks: [], explicit: true };
  const runtimeDir = env.XDG_RUNTIME_DIR;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const primary = runtimeDir ? path.join(runtimeDir, 'containers', 'auth.json') : `/run/containers/${uid}/auth.json`;
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return {
    primary,
    explicit: false,
    fallbacks: [
      { path: path.join(configHome, 'containers', 'auth.json'), legacy: false },
      { path: env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, 'config.json') : path.join(home, '.docker', 'config.json'), legacy: false },
      { path: path.join(home, '.dockercfg'), legacy: true },
    ],
  };
}
