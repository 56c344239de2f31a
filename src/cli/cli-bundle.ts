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
 * so when that run did the command's work (exit code 0, no --help), atomically (a temp file renamed), and only when the directory is
 * writable (a user's CLI on a root-owned checkout just runs without). A cache is only ever an
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
  const cacheFile = path.join(BUNDLE_CACHE_DIR, `${commandKey(argv)}.cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // none yet: written at exit below
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
 * `file` atomically; silent when the directory is not writable or already
 * holds MAX_CACHES caches.
 */
function saveCodeCache(script: vm.Script, file: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(BUNDLE_CACHE_DIR, { recursive: true });
    fs.accessSync(BUNDLE_CACHE_DIR, fs.constants.W_OK);
    if (!fs.existsSync(file) && fs.readdirSync(BUNDLE_CACHE_DIR).length >= MAX_CACHES) return;
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
