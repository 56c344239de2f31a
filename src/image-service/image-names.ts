/**
 * Names of stored images for the CLI's `tag`, `untag` and `rmi`: how a name
 * given by a user becomes a stored tag (Podman's rule: a name without a
 * registry lives under `localhost/`), and which of an image's tags a user's
 * reference named.
 */
import { formatReference, InvalidReferenceError, parseReference } from './reference';
import type { ImageRecord } from './store/image-store';

/**
 * The stored form of a new name: `domain/path:tag` (`:latest` when no tag);
 * a name without a registry goes under `localhost/` (`myapp` →
 * `localhost/myapp:latest`), as `podman tag` does.
 * @throws InvalidReferenceError for a malformed name or one with a digest.
 */
export function normalizeNewName(name: string): string {
  const r = parseReference(name);
  if (r.digest) throw new InvalidReferenceError(name, 'a tag cannot have a digest');
  if (r.shortName) {
    const bare = r.path.replace(/^library\//, '');
    return `localhost/${bare}:${r.tag ?? 'latest'}`;
  }
  return formatReference(r);
}

/**
 * Which tag of `img` the user's `ref` names: the normalized name, the
 * `localhost/` form of a short name, or (for a short name) the one tag
 * ending in `/<path>:<tag>`.
 * @returns undefined when `ref` is an ID, a digest or none of its tags.
 */
export function tagNamedBy(img: ImageRecord, ref: string): string | undefined {
  let r;
  try {
    r = parseReference(ref);
  } catch {
    return undefined;
  }
  if (r.digest) return undefined;
  const full = formatReference(r);
  if (img.repoTags.includes(full)) return full;
  if (!r.shortName) return undefined;
  const local = normalizeNewName(ref);
  if (img.repoTags.includes(local)) return local;
  const suffix = `/${r.path.replace(/^library\//, '')}:${r.tag}`;
  const matches = img.repoTags.filter((t) => t.endsWith(suffix));
  return matches.length === 1 ? matches[0] : undefined;
}
