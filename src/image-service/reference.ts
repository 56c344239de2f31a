/**
 * Image references by the grammar of distribution/reference (the one Docker,
 * containerd and CRI-O use):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component ( "/" path-component )*
 *   domain    := domain-component ( "." domain-component )* [ ":" port ]
 *
 * Normalization follows Docker: a name whose first component is not a domain
 * (no ".", no ":", not "localhost") lives on docker.io, and a one-component
 * name on docker.io gets "library/". A reference without tag or digest means
 * ":latest".
 */

import { quoteInput } from '../common/bounded-text';
import { PeapodError } from '../common/errors';

/** The default registry of names without a domain. */
export const DEFAULT_DOMAIN = 'docker.io';
/** The tag of a reference that names neither tag nor digest. */
export const DEFAULT_TAG = 'latest';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HEX_ID = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

/**
 * The longest reference the grammar allows: a name of 255 characters, ":",
 * a tag of 128, "@" and a sha512 digest (7 + 128). Longer input is refused
 * before any parsing.
 */
export const MAX_REFERENCE_LENGTH = NAME_MAX + 1 + 128 + 1 + 135;

/** A reference that does not follow the grammar; the message names the reference and the fault. */
export class InvalidReferenceError extends PeapodError {
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super('INVALID_ARGUMENT', `invalid image reference ${quoteInput(reference)}: ${reason}`);
    this.name = 'InvalidReferenceError';
  }
}

/** A parsed, normalized reference. */
export interface ImageReference {
  /** Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path within the registry, e.g. `library/busybox`. */
  path: string;
  /** Tag, when the reference names one (":latest" is filled in when neither tag nor digest is given). */
  tag?: string;
  /** `algorithm:hex`, when the reference names one. */
  digest?: string;
  /** True when the input named no domain (a "short name"). */
  shortName: boolean;
}

/**
 * Checks a digest string `algorithm:encoded` (OCI image-spec descriptor.md):
 * sha256 needs 64 lowercase hex digits, sha512 128.
 * @throws Error naming the digest when malformed or of an unknown algorithm.
 */
export function checkDigest(digest: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = DIGEST.exec(digest);
  if (!m) throw new Error(`invalid digest "${digest}"`);
  const [, algorithm, hex] = m;
  if (algorithm === 'sha256' && /^[a-f0-9]{64}$/.test(hex)) return { algorithm, hex };
  if (algorithm === 'sha512' && /^[a-f0-9]{128}$/.test(hex)) return { algorithm, hex };
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw new Error(`unsupported digest algorithm "${algorithm}" in "${digest}"`);
  throw new Error(`invalid ${algorithm} digest "${digest}"`);
}

/**
 * Parses and normalizes a reference.
 * @param ref e.g. `busybox`, `busybox:1.36`, `quay.io/a/b@sha256:…`,
 *   `localhost:5000/x:tag@sha256:…`
 * @returns the normalized parts; `tag` is `latest` when neither tag nor digest is given.
 * @throws InvalidReferenceError naming the reference and what is wrong; a
 *   reference longer than MAX_REFERENCE_LENGTH before any parsing.
 */
export function parseReference(ref: string): ImageReference {
  if (ref === '') throw new InvalidReferenceError(ref, 'empty');
  if (ref.length > MAX_REFERENCE_LENGTH) throw new InvalidReferenceError(ref, `longer than ${MAX_REFERENCE_LENGTH} characters`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      checkDigest(digest);
    } catch (err) {
      throw new InvalidReferenceError(ref, (err as Error).message);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(ref, `invalid tag "${tag}"`);
  }
  if (rest === '') throw new InvalidReferenceError(ref, 'missing repository name');
  let domain: string;
  let path: string;
  let shortName = false;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    path = rest.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw new InvalidReferenceError(ref, `invalid registry domain "${domain}"`);
  } else {
    domain = DEFAULT_DOMAIN;
    path = rest;
    shortName = true;
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) {
      if (c.toLowerCase() !== c) throw new InvalidReferenceError(ref, 'repository name must be lowercase');
      throw new InvalidReferenceError(ref, `invalid path component "${c}"`);
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > NAME_MAX) throw new InvalidReferenceError(ref, `repository name longer than ${NAME_MAX} characters`);
  if (!tag && !digest) tag = DEFAULT_TAG;
  return { domain, path, tag, digest, shortName };
}

/** `domain/path`, the repository's full name. */
export function repositoryName(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** The normalized string form: `domain/path[:tag][@digest]`. */
export function formatReference(r: ImageReference): string {
  return repositoryName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** True when `s` is a full image ID in hex (64 hex digits, no algorithm). */
export function isHexId(s: string): boolean {
  return HEX_ID.test(s);
}

/**
 * The same short name placed on another registry: `library/` only on
 * docker.io (for one-component names).
 */
export function withDomain(r: ImageReference, domain: string): ImageReference {
  let path = r.path;
  if (r.domain === DEFAULT_DOMAIN && path.startsWith('library/') && domain !== DEFAULT_DOMAIN) path = path.slice('library/'.length);
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  return { ...r, domain, path, shortName: false };
}
