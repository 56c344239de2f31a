/**
 * `peapod images --filter` as Podman's: `key=value` or `key!=value`;
 * filters with the same key match when any does, different keys must all
 * match. Keys: reference (a name pattern with `*`, `?` and `[…]`, matched
 * against the full name, a trailing part of its path, or the familiar name;
 * a pattern without a tag matches every tag), dangling (true|false), before
 * and since/after (an image; compares creation times), id (a prefix of the
 * ID), label (`key` or `key=value`).
 */
import type { ImageRecord, ImageStore } from '../image-service/store/image-store';
import { CliError } from './errors';
import { createdMs, splitTag } from './image-view';

/** A compiled filter: true when the image is listed. */
export type ImageFilter = (img: ImageRecord) => boolean;

const KEYS = ['reference', 'dangling', 'before', 'since', 'after', 'id', 'label'];

/** A glob (`*`, `?`, `[…]`, as Go's path.Match without crossing `/` for `*`) as a RegExp. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new CliError(`--filter reference: bad pattern "${pattern}": unclosed [`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * True when a reference pattern names `name` (`domain/path:tag`): the
 * repository part matches the whole repository, a trailing run of its path
 * components, or its familiar form (without `docker.io/` and `library/`).
 */
export function referenceMatches(pattern: string, name: string): boolean {
  const [repo, tag] = splitTag(name);
  const slash = pattern.lastIndexOf('/');
  const colon = pattern.lastIndexOf(':');
  const hasTag = colon > slash;
  const repoPat = globRegExp(hasTag ? pattern.slice(0, colon) : pattern);
  const tagPat = hasTag ? globRegExp(pattern.slice(colon + 1)) : undefined;
  if (tagPat && !tagPat.test(tag)) return false;
  const parts = repo.split('/');
  const candidates = new Set<string>();
  for (let i = 0; i < parts.length; i++) candidates.add(parts.slice(i).join('/'));
  candidates.add(repo.replace(/^docker\.io\//, '').replace(/^library\//, ''));
  for (const c of candidates) if (repoPat.test(c)) return true;
  return false;
}

function parseBool(key: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new CliError(`--filter ${key}: "${v}" is not true or false`);
}

/**
 * Compiles `--filter` values.
 * @param resolve finds the image a before/since filter names.
 * @throws CliError (125) naming the filter for an unknown key, a bad value or an unknown image.
 */
export function compileImageFilters(values: string[], store: Pick<ImageStore, 'resolve'>): ImageFilter {
  const byKey = new Map<string, ImageFilter[]>();
  for (const raw of values) {
    const m = /^([a-z]+)(!?=)(.*)$/s.exec(raw);
    if (!m) throw new CliError(`--filter "${raw}": expected key=value or key!=value`);
    const [, key, op, value] = m;
    if (!KEYS.includes(key)) throw new CliError(`--filter "${raw}": unknown filter "${key}" (known: ${KEYS.join(', ')})`);
    let f: ImageFilter;
    switch (key) {
      case 'reference':
        f = (img) => img.repoTags.some((n) => referenceMatches(value, n)) || img.repoDigests.some((d) => d === value);
        break;
      case 'dangling': {
        const want = parseBool(key, value);
        f = (img) => (img.repoTags.length === 0) === want;
        break;
      }
      case 'before':
      case 'since':
      case 'after': {
        const ref = store.resolve(value);
        if (!ref) throw new CliError(`--filter ${key}: ${value}: image not known`);
        const t = createdMs(ref);
        f = key === 'before' ? (img) => createdMs(img) < t : (img) => createdMs(img) > t;
        break;
      }
      case 'id': {
        const hex = value.replace(/^sha256:/, '');
        f = (img) => img.id.replace(/^sha256:/, '').startsWith(hex);
        break;
      }
      default: {
        const eq = value.indexOf('=');
        const lk = eq < 0 ? value : value.slice(0, eq);
        const lv = eq < 0 ? undefined : value.slice(eq + 1);
        f = (img) => {
          const labels = img.config.config?.Labels ?? {};
          return Object.prototype.hasOwnProperty.call(labels, lk) && (lv === undefined || labels[lk] === lv);
        };
      }
    }
    const g = op === '!=' ? (img: ImageRecord) => !f(img) : f;
    const k = key === 'after' ? 'since' : key;
    byKey.set(k, [...(byKey.get(k) ?? []), g]);
  }
  const groups = [...byKey.values()];
  return (img) => groups.every((fs) => fs.some((f) => f(img)));
}
