/**
 * Registry credentials in the containers-auth.json(5) format (the file
 * `podman login` writes; Docker's config.json has the same `auths` map):
 *
 *   { "auths": { "registry.example.com": { "auth": "<base64 user:password>" },
 *                "quay.io/team/app":     { "auth": "…", "identitytoken": "…" } } }
 *
 * Keys are a registry host[:port] or a repository namespace under it; a
 * lookup for `host/a/b` tries `host/a/b`, `host/a`, then `host`, then keys
 * written as URLs (`https://host/v1/`, Docker's legacy form) and docker.io's
 * aliases (index.docker.io, registry-1.docker.io). The legacy ~/.dockercfg
 * holds the `auths` map at its top level. Writes are atomic (temp file and
 * rename, mode 0600) and keep the file's other keys.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RegistryCredentials } from './registry-client';

/** Largest auth file read (bytes). */
export const MAX_AUTH_FILE_BYTES = 1 << 20;

/** An auth file that cannot be read or parsed; the message names the file. */
export class AuthFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthFileError';
  }
}

/** One auth file to consult. */
export interface AuthFileRef {
  path: string;
  /** ~/.dockercfg: the `auths` map is the whole file. */
  legacy?: boolean;
}

/** Credentials found for a key, and where. */
export interface FoundCredentials {
  credentials: RegistryCredentials;
  /** The user name (empty for an identity token). */
  username: string;
  /** The key that matched and the file it was in. */
  key: string;
  file: string;
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

function readJson(file: string, legacy: boolean): { whole: Record<string, unknown>; auths: Record<string, AuthEntry> } {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.size > MAX_AUTH_FILE_BYTES) throw new AuthFileError(`${file}: ${st.size} bytes, over the ${MAX_AUTH_FILE_BYTES}-byte limit`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { whole: {}, auths: {} };
    if (err instanceof AuthFileError) throw err;
    throw new AuthFileError(`${file}: cannot read: ${(err as Error).message}`);
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (err) {
    throw new AuthFileError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof whole !== 'object' || whole === null || Array.isArray(whole)) throw new AuthFileError(`${file}: not a JSON object`);
  const w = whole as Record<string, unknown>;
  const auths = legacy ? w : (w.auths ?? {});
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) throw new AuthFileError(`${file}: "auths" is not an object`);
  return { whole: w, auths: auths as Record<string, AuthEntry> };
}

/** docker.io's registry under its canonical auth key (containers/image's normalizeRegistry). */
function normalizeRegistry(host: string): string {
  return host === 'registry-1.docker.io' || host === 'docker.io' ? 'index.docker.io' : host;
}

/** A key written as a URL (`https://host/v1/`) → its host; other keys as they are. */
function normalizeKey(key: string, legacy: boolean): string {
  const stripped = key.replace(/^https?:\/\//, '');
  return normalizeRegistry(legacy || stripped !== key ? stripped.split('/')[0] : stripped);
}

/**
 * Checks a key: `host[:port]` or `host[:port]/namespace/…`, with no scheme,
 * tag or digest.
 * @throws AuthFileError naming the key.
 */
export function validateAuthKey(key: string): void {
  if (!key) throw new AuthFileError('registry name is empty');
  if (/^https?:\/\//.test(key)) throw new AuthFileError(`"${key}": give the registry without http[s]://`);
  if (key.includes('@')) throw new AuthFileError(`"${key}": a registry key cannot have a digest`);
  const slash = key.indexOf('/');
  if (slash >= 0 && key.slice(slash + 1).includes(':')) throw new AuthFileError(`"${key}": a registry key cannot have a tag`);
}

function decode(entry: AuthEntry, key: string, file: string): FoundCredentials | undefined {
  if (entry.identitytoken) return { credentials: { identityToken: entry.identitytoken }, username: '', key, file };
  if (!entry.auth) return undefined;
  const text = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const username = text.slice(0, colon);
  const password = text.slice(colon + 1).replace(/\0+$/, '');
  return { credentials: { username, password }, username, key, file };
}

/**
 * Finds the credentials for `key` (a repository `host/path` or a registry
 * `host`) in the files, in order; the first file with a match wins.
 * @returns undefined when no file has an entry.
 * @throws AuthFileError for a file that exists but cannot be parsed.
 */
export function findCredentials(files: AuthFileRef[], key: string): FoundCredentials | undefined {
  const registry = key.split('/')[0];
  for (const f of files) {
    const { auths } = readJson(f.path, f.legacy ?? false);
    const candidates: string[] = [];
    if (f.legacy) candidates.push(registry);
    else for (let k = key; ; ) {
      candidates.push(k);
      const i = k.lastIndexOf('/');
      if (i < 0) break;
      k = k.slice(0, i);
    }
    for (const c of candidates) if (auths[c]) {
      const found = decode(auths[c], c, f.path);
      if (found) return found;
    }
    const want = normalizeRegistry(registry);
    for (const [k, v] of Object.entries(auths)) if (normalizeKey(k, f.legacy ?? false) === want) {
      const found = decode(v, k, f.path);
      if (found) return found;
    }
  }
  return undefined;
}

function writeAtomic(file: string, whole: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(whole, null, '\t') + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new AuthFileError(`${file}: cannot write: ${(err as Error).message}`);
  }
}

/**
 * Stores `username`/`password` under `key` in `file` (created 0600, its
 * directory 0700), keeping the other entries and keys.
 * @throws AuthFileError for a bad key or an unreadable/unwritable file.
 */
export function storeCredentials(file: string, key: string, username: string, password: string): void {
  validateAuthKey(key);
  const { whole, auths } = readJson(file, false);
  auths[key] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  writeAtomic(file, { ...whole, auths });
}

/**
 * Removes the entry of `key` from `file`.
 * @returns false when the file had no entry for the key (not logged in).
 * @throws AuthFileError as storeCredentials.
 */
export function removeCredentials(file: string, key: string): boolean {
  validateAuthKey(key);
  const { whole, auths } = readJson(file, false);
  if (!(key in auths)) return false;
  delete auths[key];
  writeAtomic(file, { ...whole, auths });
  return true;
}

/** Removes every entry of `file` (`logout --all`); a missing file is left missing. */
export function removeAllCredentials(file: string): void {
  if (!fs.existsSync(file)) return;
  const { whole } = readJson(file, false);
  writeAtomic(file, { ...whole, auths: {} });
}
