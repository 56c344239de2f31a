/**
 * Runs the CLI's single-file bundle (dist/src/cli/peapod.bundle.js, made at
 * `npm run build` by scripts/bundle-cli.ts) with a V8 code cache beside it.
 *
 * The bundle is a CommonJS file: it is compiled as one `vm.Script` wrapped the
 * way Node wraps a module, and given a `require` rooted at its own path (for
 * Node's built-ins and better-sqlite3, the one package left outside it). The
 * code cache of a command (`peapod.bundle.cache/<command>.cache`) holds V8's
 * compiled code of the bundle's functions that command ran: with it a start
 * skips parsing and compiling them (one cache for all commands would hold
 * only what the first one ran). It is written when missing or rejected
 * (another Node, other V8 flags), at the exit of the command that found it
 * so when that run did the command's work (exit code 0, no --help), atomically (a temp file renamed).
 * Where this process cannot write beside the bundle (a rootless user's CLI
 * on a root-owned install) and root has left no cache of the command there,
 * the user's own cache directory holds it (userCacheDir): without one, every
 * rootless `run` compiled what it ran again, about 60 ms of CPU. A cache is only ever an
 * optimisation: V8 checks it against the source and its own version, and
 * compiles from the source when it does not match.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

/** The bundle's path (beside this module, in dist/src/cli). */
export const BUNDLE_FILE = path.join(__dirname, 'peapod.bundle.js');

/** The bundle's V8 code caches, one per command (`<command>.cache`: `ps`, `pod-ps`, `run`, ...). */
export const BUNDLE_CACHE_DIR = path.join(__dirname, 'peapod.bundle.cache');

/** At most this many caches are written (a typo makes one too): about 0.2-0.5 MB each. */
const MAX_CACHES = 80;

/** Global flags that take a value (commands.ts GLOBAL_FLAGS), skipped to find the command. */
const GLOBAL_VALUE_FLAGS = new Set(['--root', '--runroot', '--log-level', '--config', '--config-dir']);

/** Command groups: their command is the next word. */
const GROUPS = new Set(['container', 'image', 'pod', 'system']);

/** The marker of a rootless command inside its user namespace (rootless-mode.ts USERNS_ENV; not imported, to load nothing more). */
const USERNS_ENV = '_PEAPOD_USERNS';

/** Node's CommonJS wrapper, on the bundle's first line so line numbers hold. */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_TAIL = '\n});';

/**
 * Starts the CLI from its bundle. Returns false, having run nothing, when
 * there is no bundle to read (a build by tsc alone); the caller then starts
 * the CLI from its modules.
 */
export function startBundle(argv: string[] = process.argv.slice(2)): boolean {
  let source: string;
  try {
    // ASCII (scripts/bundle-cli.ts checks it): latin1 makes a one-byte string, where UTF-8 decoding takes several ms more.
    source = fs.readFileSync(BUNDLE_FILE, 'latin1');
  } catch {
    return false;
  }
  const name = `${commandKey(argv)}.cache`;
  let cacheFile = path.join(BUNDLE_CACHE_DIR, name);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // None yet beside the bundle: written at exit below, there or, where this process cannot write there, in the user's directory.
    const own = writable(BUNDLE_CACHE_DIR) ? undefined : userCacheDir();
    if (own !== undefined) {
      cacheFile = path.join(own, name);
      cachedData = readOwnFile(cacheFile);
    }
  }
  const script = new vm.Script(WRAP_HEAD + source.replace(/^#!.*/, '') + WRAP_TAIL, { filename: BUNDLE_FILE, cachedData });
  // Only from a run that did the command's work: a --help or a failed run compiles little of it.
  const helpOnly = argv.some((a) => a === '--help' || a === '-h' || a === 'help');
  if ((cachedData === undefined || script.cachedDataRejected === true) && !helpOnly) {
    process.once('exit', (code) => {
      if (code === 0) saveCodeCache(script, cacheFile);
    });
  }
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const module = { exports: {} };
  run.call(module.exports, module.exports, createRequire(BUNDLE_FILE), module, BUNDLE_FILE, path.dirname(BUNDLE_FILE));
  return true;
}

/** Whether this process may make files in `dir` (in its parent when it does not exist yet). */
function writable(dir: string): boolean {
  for (const d of [dir, path.dirname(dir)]) {
    try {
      fs.accessSync(d, fs.constants.W_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
  }
  return false;
}

/**
 * The user's directory of code caches for this bundle, when this process is
 * a user's: `${XDG_CACHE_HOME:-$HOME/.cache}/peapod/bundle-cache/<bundle>`
 * (`<bundle>` a hash of the bundle's path, so two installs keep theirs
 * apart). A user's process is one whose effective uid is not 0, or a
 * rootless command inside its user namespace (uid 0 there, mapped to the
 * user; `_PEAPOD_USERNS`). Undefined for root, which writes beside the
 * bundle or keeps none: V8 trusts the compiled code of a cache it accepts,
 * so root never reads one from a directory another user may own.
 * @param env the environment (default this process's)
 * @param euid the effective uid (default this process's)
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid?.() ?? 0): string | undefined {
  if (euid === 0 && !env[USERNS_ENV]) return undefined;
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, '.cache') : undefined;
  if (base === undefined) return undefined;
  // FNV-1a over the path: a name per install without loading node:crypto at every start.
  let h = 0x811c9dc5;
  for (let i = 0; i < BUNDLE_FILE.length; i++) h = Math.imul(h ^ BUNDLE_FILE.charCodeAt(i), 0x01000193) >>> 0;
  return path.join(base, 'peapod', 'bundle-cache', h.toString(16).padStart(8, '0'));
}

/**
 * A file's bytes when it and its directory belong to this process's user and
 * no one else may write to them (a cache of compiled code is code); else undefined.
 */
function readOwnFile(file: string): Buffer | undefined {
  const euid = process.geteuid?.() ?? 0;
  const ownedAlone = (st: fs.Stats): boolean => st.uid === euid && (st.mode & 0o022) === 0;
  let fd: number | undefined;
  try {
    const dir = fs.lstatSync(path.dirname(file));
    if (!dir.isDirectory() || !ownedAlone(dir)) return undefined;
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !ownedAlone(st)) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * The name of the command `argv` runs, for its cache file: its first word
 * (two for a group: `pod-ps`), global flags and their values skipped;
 * `default` for none or anything but lowercase letters and dashes.
 */
export function commandKey(argv: string[]): string {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i];
    if (a.startsWith('-')) {
      if (GLOBAL_VALUE_FLAGS.has(a)) i++;
      continue;
    }
    words.push(a);
    if (!GROUPS.has(a)) break;
  }
  const key = words.join('-');
  return /^[a-z][a-z-]{0,40}$/.test(key) ? key : 'default';
}

/**
 * Writes the script's code cache (what ran so far is compiled in it) to
 * `file` atomically (its directory made, 0700 when it is the user's);
 * silent when the directory is not writable or already holds MAX_CACHES caches.
 */
function saveCodeCache(script: vm.Script, file: string): void {
  const dir = path.dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: dir === BUNDLE_CACHE_DIR ? 0o755 : 0o700 });
    fs.accessSync(dir, fs.constants.W_OK);
    if (!fs.existsSync(file) && fs.readdirSync(dir).length >= MAX_CACHES) return;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
