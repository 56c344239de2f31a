import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { CORE_SCHEMA, FRONT_END_KEYS, KeySpec, MapSpec, SchemaNode, TableSpec } from './config-schema';
import { PeapodError } from './errors';

/** One runtime handler (`[runtime.runtimes.NAME]`). */
export interface RuntimeHandlerConfig {
  /** Path of the OCI runtime binary. */
  runtime_path: string;
  /** Directory passed to the runtime as `--root` (`<runroot>/<handler name>` unless set). */
  runtime_root: string;
}

/**
 * The core configuration every front end uses (docs/config.md): where state
 * lives, the runtime handlers, images, pods and their networks. The CRI
 * server's own keys (socket, shutdown_timeout, [streaming]) are in
 * src/server/config.ts.
 */
export interface PeapodConfig {
  root: string;
  runroot: string;
  log_level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  runtime: {
    default_runtime: string;
    cgroup_driver: 'cgroupfs' | 'systemd';
    conmon_path: string;
    runtimes: Record<string, RuntimeHandlerConfig>;
  };
  image: {
    registries_conf: string;
    registries_conf_dir: string;
    max_concurrent_downloads: number;
    /** Seconds. */
    connect_timeout: number;
    /** Seconds. */
    idle_timeout: number;
    /** References, IDs or `prefix*` patterns of images reported pinned. */
    pinned_images: string[];
  };
  sandbox: {
    /** Bytes. */
    shm_size: number;
  };
  network: {
    cni_conf_dir: string;
    cni_bin_dirs: string[];
    /** The `peapod` CLI's CNI configuration directory (peapod-cri never reads it). */
    cli_conf_dir: string;
  };
}

/** Default location of the main configuration file. */
export const DEFAULT_CONFIG_FILE = '/etc/peapod/peapod.conf';
/** Default directory of drop-in files (`*.conf`, read in lexical order). */
export const DEFAULT_CONFIG_DIR = '/etc/peapod/peapod.conf.d';

/** A configuration problem; the message names the file, the key and what was expected. */
export class ConfigError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'ConfigError';
  }
}

/** Values given on the command line; they win over every file (keys of the schema, dotted tables not supported). */
export interface ConfigOverrides {
  root?: string;
  runroot?: string;
  log_level?: string;
  [key: string]: string | undefined;
}

/** Where to read configuration from. */
export interface ConfigSources {
  /** Main file; when undefined the default is read if it exists. */
  configFile?: string;
  /** Drop-in directory; when undefined the default is read if it exists. */
  configDir?: string;
  overrides?: ConfigOverrides;
  /**
   * Values that replace the schema's defaults (a partial tree of the schema,
   * checked like a file): files and overrides still win over them. A rootless
   * front end gives its own root and runroot this way.
   */
  defaults?: Record<string, unknown>;
  /** The main file and drop-in directory read when present, in place of /etc/peapod's (a rootless front end's own). */
  defaultFiles?: { configFile: string; configDir: string };
}

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Names a parsed TOML value's type the way TOML's spec does. */
function tomlTypeName(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'datetime';
  if (isTable(v)) return 'table';
  return typeof v;
}

function defaultsOf(node: TableSpec): Table {
  const out: Table = {};
  for (const [name, child] of Object.entries(node.fields)) {
    if (child.kind === 'key') out[name] = Array.isArray(child.default) ? [...child.default] : child.default;
    else if (child.kind === 'table') out[name] = defaultsOf(child);
    else out[name] = structuredClone(child.default);
  }
  return out;
}

function checkKey(spec: KeySpec, value: unknown, key: string, file: string): void {
  const got = tomlTypeName(value);
  const fail = (expected: string): never => {
    throw new ConfigError(`${file}: key "${key}" must be ${expected}, got ${got}${got === 'string' ? ` "${String(value)}"` : ''}`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') fail('a string');
      if (spec.allowed && !spec.allowed.includes(value as string)) {
        throw new ConfigError(`${file}: key "${key}" must be one of ${spec.allowed.join(', ')}, got "${String(value)}"`);
      }
      return;
    case 'integer':
      if (got !== 'integer') fail('an integer');
      if (spec.min !== undefined && Number(value) < spec.min) {
        throw new ConfigError(`${file}: key "${key}" must be an integer of at least ${spec.min}, got ${String(value)}`);
      }
      if (spec.max !== undefined && Number(value) > spec.max) {
        throw new ConfigError(`${file}: key "${key}" must be an integer of at most ${spec.max}, got ${String(value)}`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('a boolean');
      return;
    case 'string array':
      if (!Array.isArray(value)) fail('an array of strings');
      (value as unknown[]).forEach((e, i) => {
        if (typeof e !== 'string') throw new ConfigError(`${file}: key "${key}" must be an array of strings, got ${tomlTypeName(e)} at index ${i}`);
      });
      return;
  }
}

/**
 * Checks one parsed file against a table of the schema and merges it into
 * `into` (later files win; arrays are replaced, not appended).
 * @throws ConfigError naming the file and the dotted key at fault.
 */
/**
 * Keys peapod once had and removed, with what to do instead: an old config
 * naming one gets that explanation rather than a bare "unknown key".
 */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  'sandbox.pause_image': "was removed: a pod sharing a PID namespace runs peapod's own pause program (dist/native/peapod-pause), not an image; delete the key",
};

function mergeTable(spec: TableSpec, value: Table, into: Table, prefix: string, file: string, skip: readonly string[] = []): void {
  for (const [name, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (prefix === '' && skip.includes(name)) continue;
    const child: SchemaNode | undefined = spec.fields[name];
    if (!child) throw new ConfigError(REMOVED_KEYS[key] ? `${file}: key "${key}" ${REMOVED_KEYS[key]}` : `${file}: unknown key "${key}"`);
    if (child.kind === 'key') {
      checkKey(child, v, key, file);
      into[name] = typeof v === 'bigint' ? Number(v) : v;
    } else if (child.kind === 'table') {
      if (!isTable(v)) throw new ConfigError(`${file}: key "${key}" must be a table, got ${tomlTypeName(v)}`);
      mergeTable(child, v, into[name] as Table, key, file);
    } else {
      mergeMap(child, v, into, name, key, file);
    }
  }
}

function mergeMap(spec: MapSpec, v: unknown, into: Table, name: string, key: string, file: string): void {
  if (!isTable(v)) throw new ConfigError(`${file}: key "${key}" must be a table, got ${tomlTypeName(v)}`);
  const entries = into[name] as Table;
  for (const [entryName, entryValue] of Object.entries(v)) {
    const entryKey = `${key}.${entryName}`;
    if (!isTable(entryValue)) throw new ConfigError(`${file}: key "${entryKey}" must be a table, got ${tomlTypeName(entryValue)}`);
    if (!isTable(entries[entryName])) entries[entryName] = defaultsOf(spec.entry);
    mergeTable(spec.entry, entryValue, entries[entryName] as Table, entryKey, file);
  }
}

function readTomlFile(file: string): Table {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return parseToml(text) as Table;
  } catch (err) {
    const detail = err instanceof TomlError ? `line ${err.line}, column ${err.column}: ${err.message.split('\n')[0]}` : (err as Error).message;
    throw new ConfigError(`${file}: invalid TOML: ${detail}`);
  }
}

/**
 * The files that make up the configuration, in the order they apply: the main
 * file, then each `*.conf` of the drop-in directory in lexical order.
 * A missing default file or directory is skipped; a file or directory named
 * explicitly must exist.
 * @throws ConfigError when an explicitly named file or directory is missing.
 */
export function configFiles(sources: ConfigSources): string[] {
  const files: string[] = [];
  const main = sources.configFile ?? sources.defaultFiles?.configFile ?? DEFAULT_CONFIG_FILE;
  if (fs.existsSync(main)) files.push(main);
  else if (sources.configFile !== undefined) throw new ConfigError(`${main}: config file not found`);
  const dir = sources.configDir ?? sources.defaultFiles?.configDir ?? DEFAULT_CONFIG_DIR;
  if (fs.existsSync(dir)) {
    const names = fs.readdirSync(dir).filter((n) => n.endsWith('.conf')).sort();
    for (const n of names) files.push(path.join(dir, n));
  } else if (sources.configDir !== undefined) {
    throw new ConfigError(`${dir}: config directory not found`);
  }
  return files;
}

/**
 * Builds a configuration from `schema`: its defaults (or the caller's), then the main file,
 * then the drop-ins in lexical order, then command-line overrides; runtime
 * handlers get their default runtime_root under the runroot.
 *
 * @param schema the keys to read (a front end passes the core schema with its own keys added)
 * @param sources files and overrides
 * @param skip top-level keys of the file to pass over unchecked (another front end's)
 * @returns the validated tree, typed by the caller.
 * @throws ConfigError for a file that does not parse, an unknown key or a
 *   value of the wrong type; the message names the file and the dotted key,
 *   e.g. `/etc/peapod/peapod.conf: key "shutdown_timeout" must be an integer, got string "10"`.
 */
export function loadConfigWith<T extends PeapodConfig>(schema: TableSpec, sources: ConfigSources = {}, skip: readonly string[] = []): T {
  const config = defaultsOf(schema);
  if (sources.defaults) mergeTable(schema, sources.defaults, config, '', 'defaults');
  for (const file of configFiles(sources)) {
    mergeTable(schema, readTomlFile(file), config, '', file, skip);
  }
  const flags: Table = {};
  for (const [k, v] of Object.entries(sources.overrides ?? {})) if (v !== undefined) flags[k] = v;
  mergeTable(schema, flags, config, '', 'command line');
  const result = config as unknown as T;
  for (const [name, handler] of Object.entries(result.runtime.runtimes)) {
    if (handler.runtime_root === '') handler.runtime_root = path.join(result.runroot, name);
  }
  if (!result.runtime.runtimes[result.runtime.default_runtime]) {
    throw new ConfigError(
      `key "runtime.default_runtime" names "${result.runtime.default_runtime}", which is not a table of [runtime.runtimes] (known: ${Object.keys(result.runtime.runtimes).join(', ')})`,
    );
  }
  return result;
}

/**
 * The core configuration (see PeapodConfig) from the file every front end
 * shares: the keys of another front end (FRONT_END_KEYS) are skipped.
 * @throws ConfigError as loadConfigWith.
 */
export function loadConfig(sources: ConfigSources = {}): PeapodConfig {
  return loadConfigWith<PeapodConfig>(CORE_SCHEMA, sources, FRONT_END_KEYS);
}
