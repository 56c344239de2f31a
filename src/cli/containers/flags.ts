/**
 * The flags of `run` and `create` (Podman's names and value syntax) turned
 * into the domain's terms: environment, bind mounts, published ports, the
 * user, resources. Every function is pure but for reading env files and the
 * caller's environment, and throws a CliError (125) naming the flag and the
 * value at fault.
 */
import * as fs from 'node:fs';
import type { ContainerMount, ContainerResources, ContainerUser, MountPropagation } from '../../runtime-service/container/spec';
import { CliError } from '../errors';
import { quoteInput } from '../../common/bounded-text';
import type { SecurityFlags } from './security-flags';

/** The flags `run` and `create` share (camelCase keys of the command table). */
export interface CreateFlags extends SecurityFlags {
  name?: string;
  env?: string[];
  envFile?: string[];
  volume?: string[];
  publish?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  network?: string;
  memory?: string;
  cpus?: string;
  pod?: string;
  pull?: string;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  label?: string[];
  stopTimeout?: string;
  detachKeys?: string;
}

/** Most entries read from one `--env-file`. */
const MAX_ENV_FILE_BYTES = 1024 * 1024;

/** One `-e`/`--env-file` entry: `NAME=VALUE`, or `NAME` alone taken from `from` (skipped when unset there). */
function envEntry(entry: string, from: NodeJS.ProcessEnv, what: string): { name: string; value: string } | undefined {
  const i = entry.indexOf('=');
  const name = i < 0 ? entry : entry.slice(0, i);
  if (name === '' || /\s/.test(name)) throw new CliError(`${what}: ${quoteInput(entry)} is not NAME=VALUE`);
  if (i >= 0) return { name, value: entry.slice(i + 1) };
  const v = from[name];
  return v === undefined ? undefined : { name, value: v };
}

/**
 * The environment of `--env-file FILE...` then `-e NAME[=VALUE]...` (later
 * entries win, as Podman's). An env file has one `NAME=VALUE` per line;
 * blank lines and lines starting with `#` are skipped.
 * @throws CliError for an unreadable or oversized file or a malformed entry.
 */
export function parseEnv(env: string[] = [], envFiles: string[] = [], from: NodeJS.ProcessEnv = process.env): { name: string; value: string }[] {
  const out = new Map<string, string>();
  for (const file of envFiles) {
    let text: string;
    try {
      if (fs.statSync(file).size > MAX_ENV_FILE_BYTES) throw new Error(`larger than ${MAX_ENV_FILE_BYTES} bytes`);
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`--env-file ${file}: ${(err as Error).message}`);
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
      if (line === '' || line.startsWith('#')) continue;
      const kv = envEntry(line, from, `--env-file ${file}`);
      if (kv) out.set(kv.name, kv.value);
    }
  }
  for (const e of env) {
    const kv = envEntry(e, from, '--env');
    if (kv) out.set(kv.name, kv.value);
  }
  return [...out].map(([name, value]) => ({ name, value }));
}

const PROPAGATIONS: Record<string, MountPropagation> = { private: 'private', rprivate: 'private', slave: 'slave', rslave: 'slave', shared: 'shared', rshared: 'shared' };

/**
 * One `-v HOST:CTR[:OPTIONS]` bind mount. OPTIONS is a comma list of `ro`,
 * `rw`, a propagation (`[r]private`, `[r]slave`, `[r]shared`) and the
 * SELinux relabel flags `z`/`Z` (accepted, no effect: no SELinux here).
 * @throws CliError for a relative host path (named volumes are not
 *   supported), a relative container path or an unknown option.
 */
export function parseVolume(spec: string): ContainerMount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw new CliError(`--volume ${quoteInput(spec)}: expected HOST-DIR:CONTAINER-DIR[:OPTIONS]`);
  const [hostPath, containerPath, opts = ''] = parts;
  if (!hostPath.startsWith('/')) throw new CliError(`--volume ${quoteInput(spec)}: the host path must be absolute (named volumes are not supported)`);
  if (!containerPath.startsWith('/')) throw new CliError(`--volume ${quoteInput(spec)}: the container path must be absolute`);
  const m: ContainerMount = { hostPath, containerPath };
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro') m.readonly = true;
    else if (o === 'rw') m.readonly = false;
    else if (PROPAGATIONS[o]) m.propagation = PROPAGATIONS[o];
    else if (o !== 'z' && o !== 'Z') throw new CliError(`--volume ${quoteInput(spec)}: unknown option ${quoteInput(o)} (ro, rw, z, Z, [r]private, [r]slave, [r]shared)`);
  }
  return m;
}

/**
 * `-u USER[:GROUP]`: a user name or UID, optionally a numeric GID.
 * @throws CliError for an empty user or a group given by name.
 */
export function parseUser(text: string): ContainerUser {
  const [u, g] = text.split(':', 2);
  if (!u) throw new CliError(`--user ${quoteInput(text)}: no user given`);
  const user: ContainerUser = /^\d+$/.test(u) ? { uid: Number(u) } : { name: u };
  if (g !== undefined && g !== '') {
    if (!/^\d+$/.test(g)) throw new CliError(`--user ${quoteInput(text)}: give the group as a GID (group names are not supported)`);
    user.gid = Number(g);
  }
  return user;
}

/**
 * `--memory`: a size with an optional unit b, k, m, g (powers of 1024, as
 * Podman's), at least 6 MiB.
 * @returns bytes.
 */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim());
  if (!m) throw new CliError(`--memory ${quoteInput(text)}: expected a size such as 512m or 1g`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1;
  const bytes = Math.floor(Number(m[1]) * mult);
  if (bytes < 6 * 1024 * 1024) throw new CliError(`--memory ${quoteInput(text)}: the minimum memory limit is 6m`);
  return bytes;
}

/** CFS period of `--cpus`, in microseconds (Podman's). */
export const CPU_PERIOD_US = 100_000;

/**
 * `--cpus N`: CPUs as a decimal, turned into a CFS quota over a 100 ms period.
 * @returns the quota and period in microseconds.
 */
export function parseCpus(text: string): Pick<ContainerResources, 'cpuQuota' | 'cpuPeriod'> {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0)) throw new CliError(`--cpus ${quoteInput(text)}: expected a positive number of CPUs such as 1.5`);
  return { cpuQuota: Math.round(n * CPU_PERIOD_US), cpuPeriod: CPU_PERIOD_US };
}

/** `--label KEY=VALUE` (a KEY alone has an empty value). */
export function parseLabels(labels: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const i = l.indexOf('=');
    const k = i < 0 ? l : l.slice(0, i);
    if (!k) throw new CliError(`--label ${quoteInput(l)}: expected KEY=VALUE`);
    out[k] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

/**
 * `--entrypoint`: a JSON array of strings, or one word (Podman's rule: the
 * string is not split).
 */
export function parseEntrypoint(text: string): string[] {
  if (text.trim().startsWith('[')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      /* not JSON: one word */
    }
  }
  return text === '' ? [] : [text];
}

/**
 * `--detach-keys`: a comma list of keys, each a letter or `ctrl-X` (X a
 * letter, `@`, `[`, `\\`, `]`, `^`, `_`); empty disables detaching.
 * Default `ctrl-p,ctrl-q`.
 * @returns the byte sequence, or undefined when disabled.
 */
export function parseDetachKeys(text: string | undefined): Buffer | undefined {
  const spec = text ?? 'ctrl-p,ctrl-q';
  if (spec === '') return undefined;
  const bytes: number[] = [];
  for (const k of spec.split(',')) {
    const m = /^ctrl-(.)$/i.exec(k);
    if (m) {
      const c = m[1].toLowerCase();
      const code = c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c];
      if (code === undefined) throw new CliError(`--detach-keys ${quoteInput(spec)}: unknown key ${quoteInput(k)}`);
      bytes.push(code);
    } else if (k.length === 1) bytes.push(k.charCodeAt(0));
    else throw new CliError(`--detach-keys ${quoteInput(spec)}: unknown key ${quoteInput(k)} (a letter or ctrl-<letter>)`);
  }
  return Buffer.from(bytes);
}
