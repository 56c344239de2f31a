/**
 * Podman's views of a stored image: the rows of `images` (one per name, with
 * Podman's template fields) and the JSON of `images --format json`.
 */
import type { ImageRecord } from '../image-service/store/image-store';
import { goTimeString, humanSize, timeAgo } from './output/units';

/** An image's creation time: the config's `created` (as Podman shows), else when it was stored. */
export function createdMs(img: ImageRecord): number {
  const t = img.config.created ? Date.parse(img.config.created) : NaN;
  return Number.isFinite(t) ? t : img.created;
}

/** `name:tag` → [repository, tag]; the tag is after the last colon that follows the last slash. */
export function splitTag(name: string): [string, string] {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, '<none>'];
}

/** The 12-hex-digit short form of an ID. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** One row of `peapod images`: the fields of Podman's images template. */
export interface ImageRow {
  ID: string;
  Id: string;
  ParentId: string;
  Repository: string;
  Tag: string;
  Digest: string;
  Created: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  VirtualSize: number;
  SharedSize: number;
  Names: string[];
  RepoTags: string[];
  RepoDigests: string[];
  History: string;
  Labels: Record<string, string>;
  Containers: number;
  Dangling: boolean;
  ReadOnly: boolean;
}

/** Headers of Podman's images table for each field. */
export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Id: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  Created: 'CREATED',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  ReadOnly: 'R/O',
};

/**
 * The rows of one image: one per tag, or one `<none>`/`<none>` row for an
 * untagged image.
 * @param noTrunc full IDs (`sha256:<hex>`) instead of 12 hex digits.
 * @param containers how many containers use it (Podman's Containers field).
 */
export function imageRows(img: ImageRecord, noTrunc: boolean, containers: number, now = Date.now()): ImageRow[] {
  const created = createdMs(img);
  const hex = img.id.replace(/^sha256:/, '');
  const names = img.repoTags.length ? img.repoTags : [];
  const base = {
    ID: noTrunc ? img.id : hex.slice(0, 12),
    Id: hex,
    ParentId: '',
    Digest: img.manifestDigest,
    Created: timeAgo(created, now),
    CreatedSince: timeAgo(created, now),
    CreatedAt: goTimeString(created),
    Size: humanSize(img.size),
    VirtualSize: img.size,
    SharedSize: 0,
    Names: names,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    History: names.join(', '),
    Labels: img.config.config?.Labels ?? {},
    Containers: containers,
    Dangling: img.repoTags.length === 0,
    ReadOnly: false,
  };
  if (names.length === 0) return [{ ...base, Repository: '<none>', Tag: '<none>' }];
  return names.map((n) => {
    const [Repository, Tag] = splitTag(n);
    return { ...base, Repository, Tag };
  });
}

/** One entry of `peapod images --format json`, Podman's field names. */
export function imageJson(img: ImageRecord, containers: number): Record<string, unknown> {
  const created = createdMs(img);
  return {
    Id: img.id.replace(/^sha256:/, ''),
    ParentId: '',
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Size: img.size,
    SharedSize: 0,
    VirtualSize: img.size,
    Labels: img.config.config?.Labels ?? null,
    Containers: containers,
    Names: img.repoTags,
    Digest: img.manifestDigest,
    History: img.repoTags,
    Created: Math.floor(created / 1000),
    CreatedAt: new Date(created).toISOString().replace('.000Z', 'Z'),
  };
}
