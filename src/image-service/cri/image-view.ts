import type { Image } from '../../generated/runtime/v1/Image';
import { formatReference, parseReference } from '../reference';
import type { ImageRecord } from '../store/image-store';

/**
 * True when a pattern of `image.pinned_images` names the image: its ID, one
 * of its tags or digests exactly (normalized: `busybox` names
 * `docker.io/library/busybox:latest`), or, for a pattern ending in `*`, a tag
 * or digest starting with the rest.
 */
export function isPinned(img: ImageRecord, patterns: string[]): boolean {
  const names = [img.id, ...img.repoTags, ...img.repoDigests];
  for (const p of patterns) {
    if (p.endsWith('*')) {
      const prefix = p.slice(0, -1);
      if (names.some((n) => n.startsWith(prefix))) return true;
      continue;
    }
    let normalized = p;
    try {
      normalized = formatReference(parseReference(p));
    } catch {
      // not a reference: compare as given (an ID)
    }
    if (names.includes(p) || names.includes(normalized)) return true;
  }
  return false;
}

/**
 * The CRI `Image` of a stored image: id, repo_tags, repo_digests, size
 * (uint64 bytes as a decimal string), uid or username from the config's
 * User ("1000" → uid 1000; "1000:1000" → uid 1000; "app" → username "app";
 * empty → both left unset), pinned (stored flag, or named by
 * `image.pinned_images`).
 */
export function toCriImage(img: ImageRecord, pinnedPatterns: string[] = []): Image {
  const out: Image = {
    id: img.id,
    repo_tags: img.repoTags,
    repo_digests: img.repoDigests,
    size: String(img.size),
    pinned: img.pinned || isPinned(img, pinnedPatterns),
    spec: { image: img.id, annotations: {} },
    username: '',
  };
  const user = (img.config.config?.User ?? '').split(':')[0];
  if (/^\d+$/.test(user)) out.uid = { value: user };
  else if (user) out.username = user;
  return out;
}
