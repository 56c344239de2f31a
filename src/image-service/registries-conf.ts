/**
 * containers-registries.conf(5), version 2: which registries short names are
 * searched on, and per-registry rewrites, mirrors, insecure and blocked flags.
 *
 *   unqualified-search-registries = ["registry.example.com", "docker.io"]
 *   [[registry]]
 *   prefix = "example.com/foo"        # matched against `domain/path`
 *   location = "internal.example.com/bar"
 *   insecure = false                   # plain http, or TLS without verification
 *   blocked = false                    # refuse pulls
 *   [[registry.mirror]]
 *   location = "mirror.example.com"
 *   pull-from-mirror = "digest-only"   # all (default) | digest-only | tag-only
 *
 * Files of the drop-in directory (`*.conf`, lexical order) apply after the main
 * file: a `[[registry]]` with the same prefix replaces the earlier one, and
 * `unqualified-search-registries` replaces the earlier list when set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { PeapodError, PeapodErrorCode } from '../common/errors';

/** One mirror of a registry. */
export interface MirrorConfig {
  location: string;
  insecure: boolean;
  /** Which references this mirror serves. */
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

/** One `[[registry]]` table. */
export interface RegistryConfig {
  /** The prefix of `domain/path` this table matches; `*.example.com` matches subdomains. */
  prefix: string;
  /** Where matched names are pulled from (the prefix is replaced by it). */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: MirrorConfig[];
}

/** The effective registries configuration. */
export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  registries: RegistryConfig[];
}

/** A pull source: a host and the repository path to ask it for. */
export interface PullSource {
  /** Host (and port) of the registry or mirror. */
  host: string;
  /** Repository path on that host. */
  path: string;
  insecure: boolean;
  /** True for a mirror, false for the registry itself. */
  mirror: boolean;
}

/** A problem in registries.conf; the message names the file and key. */
export class RegistriesConfError extends PeapodError {
  constructor(message: string, code: PeapodErrorCode = 'INVALID_ARGUMENT') {
    super(code, message);
    this.name = 'RegistriesConfError';
  }
}

/** A pull refused because registries.conf marks the registry `blocked`. */
export class RegistryBlockedError extends RegistriesConfError {
  constructor(message: string) {
    super(message, 'PERMISSION_DENIED');
    this.name = 'RegistryBlockedError';
  }
}

type Table = Record<string, unknown>;

function str(t: Table, key: string, file: string, def = ''): string {
  const v = t[key];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw new RegistriesConfError(`${file}: key "${key}" must be a string`);
  return v;
}

function bool(t: Table, key: string, file: string): boolean {
  const v = t[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new RegistriesConfError(`${file}: key "${key}" must be a boolean`);
  return v;
}

function parseRegistry(t: Table, file: string): RegistryConfig {
  const location = str(t, 'location', file);
  const prefix = str(t, 'prefix', file) || location;
  if (!prefix) throw new RegistriesConfError(`${file}: a [[registry]] needs "prefix" or "location"`);
  const mirrorByDigestOnly = bool(t, 'mirror-by-digest-only', file);
  const mirrors = Array.isArray(t.mirror)
    ? (t.mirror as Table[]).map((m): MirrorConfig => {
        const pfm = str(m, 'pull-from-mirror', file, mirrorByDigestOnly ? 'digest-only' : 'all');
        if (pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only') {
          throw new RegistriesConfError(`${file}: key "pull-from-mirror" must be all, digest-only or tag-only, got "${pfm}"`);
        }
        const loc = str(m, 'location', file);
        if (!loc) throw new RegistriesConfError(`${file}: a [[registry.mirror]] needs "location"`);
        return { location: loc, insecure: bool(m, 'insecure', file), pullFromMirror: pfm };
      })
    : [];
  return { prefix, location: location || prefix, insecure: bool(t, 'insecure', file), blocked: bool(t, 'blocked', file), mirrors };
}

/**
 * Reads the main file (if it exists) and the drop-ins (`*.conf` in lexical order).
 * @param file e.g. /etc/containers/registries.conf
 * @param dir e.g. /etc/containers/registries.conf.d
 * @throws RegistriesConfError for invalid TOML or keys of the wrong type.
 */
export function loadRegistriesConf(file: string, dir: string): RegistriesConf {
  const files: string[] = [];
  if (file && fs.existsSync(file)) files.push(file);
  if (dir && fs.existsSync(dir)) for (const n of fs.readdirSync(dir).filter((n) => n.endsWith('.conf')).sort()) files.push(path.join(dir, n));
  const conf: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [] };
  for (const f of files) {
    let t: Table;
    try {
      t = parseToml(fs.readFileSync(f, 'utf8')) as Table;
    } catch (err) {
      throw new RegistriesConfError(`${f}: ${(err as Error).message.split('\n')[0]}`);
    }
    const usr = t['unqualified-search-registries'];
    if (usr !== undefined) {
      if (!Array.isArray(usr) || !usr.every((s) => typeof s === 'string')) throw new RegistriesConfError(`${f}: key "unqualified-search-registries" must be an array of strings`);
      conf.unqualifiedSearchRegistries = usr as string[];
    }
    if (t.registry !== undefined) {
      if (!Array.isArray(t.registry)) throw new RegistriesConfError(`${f}: "registry" must be an array of tables ([[registry]])`);
      for (const r of t.registry as Table[]) {
        const reg = parseRegistry(r, f);
        conf.registries = conf.registries.filter((x) => x.prefix !== reg.prefix);
        conf.registries.push(reg);
      }
    }
  }
  return conf;
}

/** True when `prefix` matches the repository `name` (`domain/path`). */
function prefixMatches(prefix: string, name: string): number {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0];
    return host.endsWith(prefix.slice(1)) ? prefix.length : -1;
  }
  if (name === prefix || name.startsWith(prefix + '/')) return prefix.length;
  return -1;
}

/** The `[[registry]]` with the longest prefix matching `name` (`domain/path`), if any. */
export function findRegistry(conf: RegistriesConf, name: string): RegistryConfig | undefined {
  let best: RegistryConfig | undefined;
  let bestLen = -1;
  for (const r of conf.registries) {
    const len = prefixMatches(r.prefix, name);
    if (len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

function split(location: string): { host: string; path: string } {
  const i = location.indexOf('/');
  return i < 0 ? { host: location, path: '' } : { host: location.slice(0, i), path: location.slice(i + 1) };
}

function join(a: string, b: string): string {
  return a && b ? `${a}/${b}` : a || b;
}

/**
 * Where to pull `domain/path` from, in order: the matching registry's mirrors
 * (those allowed for a by-digest or by-tag pull), then the registry itself at
 * its (possibly rewritten) location.
 * @param byDigest whether the pull names a digest (mirrors with
 *   `pull-from-mirror = "digest-only"` serve only those).
 * @throws RegistryBlockedError when the matching registry is blocked.
 */
export function pullSources(conf: RegistriesConf, domain: string, repoPath: string, byDigest: boolean): PullSource[] {
  const name = `${domain}/${repoPath}`;
  const reg = findRegistry(conf, name);
  if (!reg) return [{ host: domain, path: repoPath, insecure: false, mirror: false }];
  if (reg.blocked) throw new RegistryBlockedError(`registry "${reg.prefix}" is blocked by registries.conf: pulling ${name} is refused`);
  const rest = reg.prefix.startsWith('*.') ? repoPath : name.slice(reg.prefix.length).replace(/^\//, '');
  const out: PullSource[] = [];
  for (const m of reg.mirrors) {
    if (m.pullFromMirror === 'digest-only' && !byDigest) continue;
    if (m.pullFromMirror === 'tag-only' && byDigest) continue;
    const l = split(m.location);
    out.push({ host: l.host, path: join(l.path, rest), insecure: m.insecure, mirror: true });
  }
  if (reg.prefix.startsWith('*.')) out.push({ host: domain, path: repoPath, insecure: reg.insecure, mirror: false });
  else {
    const l = split(reg.location);
    out.push({ host: l.host, path: join(l.path, rest), insecure: reg.insecure, mirror: false });
  }
  return out;
}
