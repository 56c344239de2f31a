/**
 * `peapod pod ps --filter` as Podman 4.3's: `key=value`; filters with the
 * same key match when any does, different keys must all match; `label!=`
 * negates. Keys: ctr-ids, ctr-names (regular expressions matched against
 * any of the pod's containers), ctr-number (the number of containers),
 * ctr-status (created, running, exited, … of any container), id, name
 * (regular expressions), label (`key` or `key=value`), network (a network
 * name), status (the pod's, lowercase: created, running, degraded,
 * stopped, exited, paused, error), until (created before: Unix seconds, a
 * date, or a Go duration before now such as `10m`, `1h30m`).
 */
import { CliError } from './errors';
import { nsToMs, PodInfo } from './pod-view';
import { podRequest } from './pods';
import { quoteInput } from '../common/bounded-text';

/** A compiled filter: true when the pod is listed. */
export type PodFilter = (p: PodInfo) => boolean;

const KEYS = ['ctr-ids', 'ctr-names', 'ctr-number', 'ctr-status', 'id', 'label', 'name', 'network', 'status', 'until'];
const POD_STATES = ['created', 'running', 'degraded', 'stopped', 'exited', 'paused', 'error', 'dead'];
const CTR_STATES = ['created', 'running', 'paused', 'stopped', 'exited', 'unknown'];
/** The longest regular expression a filter may hold. */
const MAX_PATTERN = 1024;

function regex(key: string, v: string): RegExp {
  if (v.length > MAX_PATTERN) throw new CliError(`--filter ${key}: the pattern is longer than ${MAX_PATTERN} characters`);
  try {
    return new RegExp(v);
  } catch (err) {
    throw new CliError(`--filter ${key}=${v}: ${(err as Error).message}`);
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A time for `until`: Unix seconds (possibly fractional), an RFC 3339 date
 * (or any date Date.parse takes), or a Go duration before `nowMs`.
 * @returns milliseconds since the epoch. @throws CliError (125) otherwise.
 */
export function untilMs(v: string, nowMs: number): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|\u00b5s|ms|s|m|h))+$/.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
    return nowMs - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliError(`--filter until=${v}: not a Unix time, a date or a duration`);
  return t;
}

function compileOne(key: string, v: string, negate: boolean, nowMs: number): PodFilter {
  switch (key) {
    case 'ctr-ids': {
      const re = regex(key, v);
      return (p) => p.containers.some((c) => re.test(c.id));
    }
    case 'ctr-names': {
      const re = regex(key, v);
      return (p) => p.containers.some((c) => re.test(c.metadata.name));
    }
    case 'ctr-number': {
      if (!/^\d+$/.test(v)) throw new CliError(`--filter ctr-number=${v}: not a number`);
      const n = Number(v);
      return (p) => p.containers.length === n;
    }
    case 'ctr-status': {
      if (!CTR_STATES.includes(v)) throw new CliError(`--filter ctr-status=${v}: not one of ${CTR_STATES.join(', ')}`);
      return (p) => p.containers.some((c) => c.state === v);
    }
    case 'id': {
      const re = regex(key, v);
      return (p) => re.test(p.pod.id);
    }
    case 'name': {
      const re = regex(key, v);
      return (p) => re.test(p.pod.metadata.name);
    }
    case 'label': {
      const eq = v.indexOf('=');
      const k = eq < 0 ? v : v.slice(0, eq);
      const want = eq < 0 ? undefined : v.slice(eq + 1);
      const has = (p: PodInfo): boolean => k in p.pod.labels && (want === undefined || p.pod.labels[k] === want);
      return negate ? (p) => !has(p) : has;
    }
    case 'network':
      return (p) => p.pod.networkName === v || podRequest(p.pod).network === v;
    case 'status': {
      if (!POD_STATES.includes(v)) throw new CliError(`--filter status=${v}: not one of ${POD_STATES.join(', ')}`);
      return (p) => p.status.toLowerCase() === v;
    }
    case 'until': {
      const t = untilMs(v, nowMs);
      return (p) => nsToMs(p.pod.createdAt) < t;
    }
    default:
      throw new CliError(`--filter: ${quoteInput(key)} is not a valid filter (${KEYS.join(', ')})`);
  }
}

/**
 * Compiles `--filter` values into one predicate.
 * @throws CliError (125) for a malformed filter, an unknown key or a bad value.
 */
export function compilePodFilters(values: string[], nowMs: number = Date.now()): PodFilter {
  const byKey = new Map<string, PodFilter[]>();
  for (const f of values) {
    const m = /^([a-z-]+)(!?=)([\s\S]*)$/.exec(f);
    if (!m) throw new CliError(`filter input must be in the form of filter=value: ${f} is invalid`);
    const [, key, op, v] = m;
    if (op === '!=' && key !== 'label') throw new CliError(`--filter ${f}: only label takes != `);
    const list = byKey.get(key) ?? [];
    list.push(compileOne(key, v, op === '!=', nowMs));
    byKey.set(key, list);
  }
  return (p) => [...byKey.values()].every((any) => any.some((f) => f(p)));
}
