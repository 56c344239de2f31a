/**
 * Where the `peapod` CLI finds its configuration and its state: the one
 * place that reads peapod's configuration (src/common/config.ts) and
 * resolves paths (root, runroot, image storage, the registry auth file,
 * the user namespace holder of rootless mode).
 *
 * As root, with no flags, the CLI reads the same /etc/peapod/peapod.conf
 * (and its drop-ins) as peapod-cri and so sees the same store.
 *
 * Rootless (a user other than root, docs/rootless.md), everything is the
 * user's own and the system's files are never read for paths:
 * - store (`root`): `${XDG_DATA_HOME:-~/.local/share}/peapod`;
 * - `runroot`: `<runtime dir>/peapod`, the runtime dir being
 *   $XDG_RUNTIME_DIR when it is the user's, else /run/user/UID when it is
 *   the user's, else a private /tmp/peapod-run-UID (made 0700, refused when
 *   it exists and is not the user's alone);
 * - configuration: `${XDG_CONFIG_HOME:-~/.config}/peapod/peapod.conf` and
 *   `peapod.conf.d/` instead of /etc/peapod;
 * - registries: `~/.config/containers/registries.conf` (and
 *   `registries.conf.d/`) when they exist, instead of the system's, as
 *   containers-registries.conf(5) says;
 * - the registry auth file under the runtime dir.
 * Flags and the user's configuration file still win over these defaults.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PeapodConfig } from '../common/config';
import { CliError, EXIT_ENGINE } from './errors';
import { hostIds, isRootless } from './rootless-mode';
import { RUNROOT_MODE } from '../runtime-service/state-dirs';

export type { PeapodConfig } from '../common/config';

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
 * are skipped; files named by flags must exist. Rootless, the defaults and
 * the default files are the user's (see the module doc), and the runtime
 * dir, runroot and store are made private (0700) when they are peapod's to make.
 * @throws CliError (exit 125) carrying the configuration error's message, or
 *   ensurePrivateDir's.
 */
export function loadCliConfig(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): PeapodConfig {
  // Lazy: the configuration loader brings the TOML parser.
  const { ConfigError, loadConfig } = require('../common/config') as typeof import('../common/config');
  try {
    const overrides = { root: g.root, runroot: g.runroot };
    if (!isRootless(env)) return loadConfig({ configFile: g.config, configDir: g.configDir, overrides });
    const p = rootlessPaths(env);
    const config = loadConfig({ configFile: g.config, configDir: g.configDir, overrides, defaults: rootlessDefaults(p), defaultFiles: p });
    if (config.runroot === p.runroot) ensureRootlessRunroot(p);
    // The user's store is the user's alone: other users see none of its images and containers.
    if (config.root === p.root) fs.mkdirSync(p.root, { recursive: true, mode: 0o700 });
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`configuration: ${err.message}`, EXIT_ENGINE);
    throw err;
  }
}

/** The paths of a rootless user (see the module doc). */
export interface RootlessPaths {
  /** The user's runtime dir: $XDG_RUNTIME_DIR, /run/user/UID or /tmp/peapod-run-UID. */
  runtimeDir: string;
  /** The store and state: `${XDG_DATA_HOME:-~/.local/share}/peapod`. */
  root: string;
  /** `<runtimeDir>/peapod`. */
  runroot: string;
  /** `${XDG_CONFIG_HOME:-~/.config}/peapod/peapod.conf` (read when present). */
  configFile: string;
  /** `${XDG_CONFIG_HOME:-~/.config}/peapod/peapod.conf.d`. */
  configDir: string;
  /**
   * The CLI's network configuration dir (`network.cli_conf_dir`):
   * `${XDG_CONFIG_HOME:-~/.config}/peapod/cni/net.d`. Its `bridge` network
   * names a rootless container's network, which slirp4netns provides (no CNI).
   */
  cliNetworkConfDir: string;
  /** The user's registries.conf and its drop-in dir, when they exist. */
  registriesConf?: string;
  registriesConfDir?: string;
  /** The pid file of the user namespace holder: `<runroot>/userns.pid`. */
  holderFile: string;
  /** The lock taken while a holder is made: `<runroot>/userns.lock`. */
  holderLock: string;
}

/** True when `dir` is a directory (not a symlink) owned by this process's uid. */
function ownDirectory(dir: string): boolean {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  return st !== undefined && st.isDirectory() && st.uid === process.geteuid!();
}

/**
 * The rootless paths of this user (see the module doc), from the
 * environment ($HOME, $XDG_DATA_HOME, $XDG_CONFIG_HOME, $XDG_RUNTIME_DIR).
 * Creates nothing.
 * @param uid the user's host uid (named in /run/user/UID and /tmp/peapod-run-UID)
 */
export function rootlessPaths(env: NodeJS.ProcessEnv = process.env, uid: number = hostIds(env).uid): RootlessPaths {
  const home = env.HOME || os.homedir();
  const dataHome = env.XDG_DATA_HOME || path.join(home, '.local', 'share');
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const xdg = env.XDG_RUNTIME_DIR;
  const runtimeDir = xdg && path.isAbsolute(xdg) && ownDirectory(xdg) ? xdg : ownDirectory(`/run/user/${uid}`) ? `/run/user/${uid}` : `/tmp/peapod-run-${uid}`;
  const runroot = path.join(runtimeDir, 'peapod');
  const registriesConf = path.join(configHome, 'containers', 'registries.conf');
  const registriesConfDir = path.join(configHome, 'containers', 'registries.conf.d');
  return {
    runtimeDir,
    root: path.join(dataHome, 'peapod'),
    runroot,
    configFile: path.join(configHome, 'peapod', 'peapod.conf'),
    configDir: path.join(configHome, 'peapod', 'peapod.conf.d'),
    cliNetworkConfDir: path.join(configHome, 'peapod', 'cni', 'net.d'),
    ...(fs.existsSync(registriesConf) ? { registriesConf } : {}),
    ...(fs.existsSync(registriesConfDir) ? { registriesConfDir } : {}),
    holderFile: path.join(runroot, 'userns.pid'),
    holderLock: path.join(runroot, 'userns.lock'),
  };
}

/** The configuration values rootless mode starts from (files and flags win over them). */
function rootlessDefaults(p: RootlessPaths): Record<string, unknown> {
  const image: Record<string, string> = {};
  if (p.registriesConf) image.registries_conf = p.registriesConf;
  if (p.registriesConfDir) image.registries_conf_dir = p.registriesConfDir;
  return { root: p.root, runroot: p.runroot, network: { cli_conf_dir: p.cliNetworkConfDir }, ...(Object.keys(image).length > 0 ? { image } : {}) };
}

/**
 * Makes the default rootless runroot (0700): the runtime dir first, checked
 * private when it is peapod's own in /tmp (XDG_RUNTIME_DIR and /run/user/UID
 * are the system's, already checked to be the user's).
 * @throws CliError as ensurePrivateDir.
 */
export function ensureRootlessRunroot(p: RootlessPaths): void {
  if (p.runtimeDir.startsWith('/tmp/')) ensurePrivateDir(p.runtimeDir);
  // The domain keeps every runroot 0710 (runtime-service/state-dirs.ts): group search only.
  ensurePrivateDir(p.runroot, RUNROOT_MODE);
}

/**
 * Makes `dir` (and its parents) when missing, mode 0700, and checks that it
 * is this user's alone: a directory, not a symlink, owned by this process's
 * uid, with no access for group or others beyond `allowedMode`'s. A runtime
 * dir in /tmp that someone else made first must not be used.
 * @param allowedMode the most a mode may allow (default 0700)
 * @throws CliError (125) naming the directory, its owner and mode, and what to do.
 */
export function ensurePrivateDir(dir: string, allowedMode = 0o700): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.geteuid!() || (st.mode & 0o777 & ~allowedMode) !== 0) {
    const what = st.isSymbolicLink() ? 'a symlink' : !st.isDirectory() ? 'not a directory' : `owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}`;
    throw new CliError(`runtime directory ${dir} is ${what}; it must be a directory of this user alone (mode 0700): remove it, or set XDG_RUNTIME_DIR to a directory of yours`, EXIT_ENGINE);
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
 * else $REGISTRY_AUTH_FILE, else `${XDG_RUNTIME_DIR}/containers/auth.json`
 * (rootless: the user's runtime dir, see rootlessPaths),
 * else (root without XDG_RUNTIME_DIR) `/run/containers/<uid>/auth.json`.
 * Unless a file was named, lookups then fall back to
 * `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
 * `${DOCKER_CONFIG:-~/.docker}/config.json` and `~/.dockercfg` (read only).
 */
export function authFiles(authfileFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): AuthFiles {
  const home = env.HOME || os.homedir();
  const named = authfileFlag || env.REGISTRY_AUTH_FILE;
  if (named) return { primary: path.resolve(named), fallbacks: [], explicit: true };
  // Rootless: the user's runtime dir, which XDG_RUNTIME_DIR names when it is the user's.
  const runtimeDir = isRootless(env) ? rootlessPaths(env).runtimeDir : env.XDG_RUNTIME_DIR;
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
