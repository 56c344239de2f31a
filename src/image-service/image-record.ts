import type { Image } from '../generated/runtime/v1/Image';
import type { ImageRecord } from './store/image-store';

/**
 * The CRI `Image` of a stored image: id, repo_tags, repo_digests, size
 * (uint64 bytes as a decimal string), uid or username from the config's
 * User ("1000" → uid 1000; "1000:1000" → uid 1000; "app" → username "app";
 * empty → uid 0 is not claimed, both left unset), pinned.
 */
export function toCriImage(img: ImageRecord): Image {
  const out: Image = {
    id: img.id,
    repo_tags: img.repoTags,
    repo_digests: img.repoDigests,
    size: String(img.size),
    pinned: img.pinned,
    spec: { image: img.id, annotations: {} },
    username: '',
  };
  const user = (img.config.config?.User ?? '').split(':')[0];
  if (/^\d+$/.test(user)) out.uid = { value: user };
  else if (user) out.username = user;
  return out;
}
