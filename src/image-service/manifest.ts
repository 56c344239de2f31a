/**
 * Manifests and indexes: OCI image-spec `manifest.md` / `image-index.md` and
 * Docker's schema 2 manifest and manifest list. Schema 1 is refused.
 */
import { PeapodError } from '../common/errors';

export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MEDIA_DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** Accept header values for a manifest GET, most wanted first. */
export const MANIFEST_ACCEPT = [MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST];

/** Largest manifest read (bytes): 4 MiB, as containerd and CRI-O limit. */
export const MAX_MANIFEST_BYTES = 4 << 20;

/**
 * Largest image config accepted (bytes): 4 MiB, the manifest bound. Real
 * configs are a few KiB (history included); the store keeps the config in
 * its database and every ListImages reads it, so an unbounded one costs
 * every later call.
 */
export const MAX_CONFIG_BYTES = 4 << 20;

/** Most layers an image may have: overlayfs stacks at most 500 lower layers (the kernel's OVL_MAX_STACK). */
export const MAX_LAYERS = 500;

/** Layer media types by compression. */
export const LAYER_MEDIA_TYPES: Record<string, 'gzip' | 'zstd' | 'none'> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
};

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** A platform of an index entry (OCI image-index `platform`). */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image index (OCI or Docker manifest list). */
export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** A manifest problem; the message says what is wrong. */
export class ManifestError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'ManifestError';
  }
}

function isDescriptor(d: unknown): d is Descriptor {
  const o = d as Descriptor;
  return typeof o === 'object' && o !== null && typeof o.digest === 'string' && Number.isSafeInteger(o.size) && o.size >= 0;
}

/**
 * Parses a manifest or index body.
 * @param body the bytes as served
 * @param contentType the response's Content-Type (used when the body has no mediaType)
 * @throws ManifestError for schema 1, an unknown media type or a malformed body.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ImageManifest | ImageIndex {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ManifestError('manifest is not valid JSON');
  }
  const ct = (contentType ?? '').split(';')[0].trim();
  const mediaType = typeof j.mediaType === 'string' ? j.mediaType : ct;
  if (j.schemaVersion === 1 || mediaType === MEDIA_DOCKER_SCHEMA1 || mediaType === MEDIA_DOCKER_SCHEMA1_SIGNED) {
    throw new ManifestError('Docker image manifest schema 1 is not supported (deprecated); push the image again with schema 2 or OCI');
  }
  if (j.schemaVersion !== 2) throw new ManifestError(`unsupported manifest schemaVersion ${String(j.schemaVersion)}`);
  const isIndex = mediaType === MEDIA_OCI_INDEX || mediaType === MEDIA_DOCKER_LIST || (!mediaType && Array.isArray(j.manifests));
  if (isIndex) {
    if (!Array.isArray(j.manifests) || !j.manifests.every(isDescriptor)) throw new ManifestError('index has no valid "manifests"');
    return { kind: 'index', mediaType: mediaType || MEDIA_OCI_INDEX, manifests: j.manifests as Descriptor[] };
  }
  const isManifest = mediaType === MEDIA_OCI_MANIFEST || mediaType === MEDIA_DOCKER_MANIFEST || (!mediaType && j.config !== undefined);
  if (!isManifest) throw new ManifestError(`unsupported manifest media type "${mediaType}"`);
  if (!isDescriptor(j.config)) throw new ManifestError('manifest has no valid "config"');
  if (!Array.isArray(j.layers) || !j.layers.every(isDescriptor)) throw new ManifestError('manifest has no valid "layers"');
  if (j.layers.length > MAX_LAYERS) throw new ManifestError(`manifest has ${j.layers.length} layers, over the limit of ${MAX_LAYERS} (overlayfs stacks at most ${MAX_LAYERS})`);
  return { kind: 'manifest', mediaType: mediaType || MEDIA_OCI_MANIFEST, config: j.config, layers: j.layers as Descriptor[] };
}

/** The host's platform in OCI terms (GOARCH names). */
export function hostPlatform(): Platform {
  const archMap: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const architecture = archMap[process.arch] ?? process.arch;
  const p: Platform = { os: 'linux', architecture };
  if (architecture === 'arm64') p.variant = 'v8';
  if (architecture === 'arm') p.variant = `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}`;
  return p;
}

function formatPlatform(p: Platform | undefined): string {
  if (!p) return '(no platform)';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Picks the index entry for `want`: same os and architecture; for a variant,
 * an entry with that variant, else one without a variant (arm64's `v8` is the
 * default variant and matches an entry without one).
 * @throws ManifestError listing the platforms offered when none matches.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  const exact = candidates.find((m) => (m.platform!.variant ?? '') === (want.variant ?? ''));
  const loose = candidates.find((m) => !m.platform!.variant || (want.architecture === 'arm64' && m.platform!.variant === 'v8'));
  const pick = exact ?? loose ?? (want.variant ? undefined : candidates[0]);
  if (!pick) {
    const offered = index.manifests.map((m) => formatPlatform(m.platform)).join(', ');
    throw new ManifestError(`no image for platform ${formatPlatform(want)} in the index; it offers: ${offered || 'nothing'}`);
  }
  return pick;
}
