/**
 * Pulls an image from a registry into the ImageStore.
 *
 * Steps: resolve the reference (short names through
 * unqualified-search-registries), pick the sources (mirrors, then the
 * registry, from registries.conf), fetch the manifest (an index picks the
 * host's platform), fetch the config, then every layer in parallel (bounded):
 * download to a temp file while hashing, verify the digest, move into the
 * content store, unpack into a temp dir while hashing the uncompressed stream,
 * check it against the config's diff ID, move into the layer store. A layer or
 * blob is fetched once: an in-process single flight and a cross-process lock
 * (SQLite row) per digest/chain ID. When the pull fails, what it added and no
 * image uses is removed again.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkDigest, ImageReference, parseReference, repositoryName, withDomain } from './reference';
import { LAYER_MEDIA_TYPES, Descriptor, hostPlatform, ImageIndex, ImageManifest, MANIFEST_ACCEPT, ManifestError, MAX_MANIFEST_BYTES, parseManifest, Platform, selectPlatform } from './manifest';
import { pullSources, RegistriesConf, RegistryBlockedError, PullSource } from './registries-conf';
import { isLoopbackHost, RegistryClient, RegistryCredentials, RegistryError } from './registry-client';
import { decompressStream } from './store/decompress';
import { ImageRecord, ImageStore, OciImageConfig } from './store/image-store';
import { unpackLayer } from './store/unpack';

/** A pull that failed for a reason the caller should see (bad manifest, digest mismatch, no platform, blocked). */
export class PullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullError';
  }
}

/** Puller settings. */
export interface PullerOptions {
  /** The registries configuration, or a function read at each pull (so edits apply without a restart). */
  registries: RegistriesConf | (() => RegistriesConf);
  /** Layers downloaded at once per pull (default 3). */
  maxConcurrentDownloads?: number;
  /** Milliseconds to connect (default 15000). */
  connectTimeoutMs?: number;
  /** Milliseconds without data (default 60000). */
  idleTimeoutMs?: number;
  /** The platform to pick from an index (default: the host's). */
  platform?: Platform;
  /** Receives progress and fallback messages. */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Progress of one pull, for a front end to draw (bytes are of the compressed blobs). */
export type PullProgress =
  | { type: 'resolved'; reference: string; manifestDigest: string; layers: { digest: string; size: number }[] }
  | { type: 'layer'; digest: string; size: number; fetched: number; state: 'waiting' | 'downloading' | 'exists' | 'unpacking' | 'done' }
  | { type: 'done'; imageId: string };

/** Bytes of a layer between two `downloading` progress events, at most. */
const PROGRESS_STEP = 64 * 1024;

/** Per-pull options. */
export interface PullRequestOptions {
  credentials?: RegistryCredentials;
  /** Called at each layer's start and end and at most once per 64 KiB of a layer's bytes. */
  onProgress?: (event: PullProgress) => void;
}

/** The chain IDs of a list of diff IDs (OCI image-spec `config.md`, "Layer ChainID"). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : 'sha256:' + crypto.createHash('sha256').update(`${out[out.length - 1]} ${d}`).digest('hex'));
  }
  return out;
}

/** Config media types of container images (OCI, Docker). */
const CONFIG_MEDIA_TYPES = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];

function hasher(digest: string): crypto.Hash {
  return crypto.createHash(checkDigest(digest).algorithm);
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first error after all settle. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let firstErr: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && firstErr === undefined) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        firstErr ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstErr !== undefined) throw firstErr;
  return results;
}

/** Pulls images into a store. One per process is enough; it is safe to call pull concurrently. */
export class ImagePuller {
  private readonly flights = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: ImageStore,
    private readonly options: PullerOptions,
  ) {}

  /** Runs `fn` once per key at a time in this process; concurrent callers share the result. */
  private single<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const cur = this.flights.get(key);
    if (cur) return cur as Promise<T>;
    const p = fn().finally(() => this.flights.delete(key));
    this.flights.set(key, p);
    return p;
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.options.log?.(msg, fields);
  }

  /**
   * Pulls `ref` and records it in the store.
   * @returns the stored image (its ID is the config digest).
   * @throws InvalidReferenceError for a malformed reference; PullError or
   *   RegistryError (with the HTTP status) when no source could deliver it;
   *   RegistryBlockedError when the registry is blocked; RegistriesConfError
   *   when registries.conf cannot be read.
   */
  async pull(ref: string, opts: PullRequestOptions = {}): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const registries = typeof this.options.registries === 'function' ? this.options.registries() : this.options.registries;
    let candidates: ImageReference[] = [parsed];
    if (parsed.shortName && registries.unqualifiedSearchRegistries.length > 0) {
      candidates = registries.unqualifiedSearchRegistries.map((d) => withDomain(parsed, d));
    }
    const errors: string[] = [];
    let lastErr: unknown;
    for (const cand of candidates) {
      let sources: PullSource[];
      try {
        sources = pullSources(registries, cand.domain, cand.path, cand.digest !== undefined);
      } catch (err) {
        // A blocked registry: refuse it, and go on with the next search registry.
        if (candidates.length === 1) throw err;
        lastErr = err;
        errors.push((err as Error).message);
        continue;
      }
      for (const src of sources) {
        try {
          // Pulls with different credentials do not share a flight: one must not succeed on another's credentials.
          const who = opts.credentials ? crypto.createHash('sha256').update(JSON.stringify(opts.credentials)).digest('hex') : '';
          return await this.single(`${src.host}/${src.path}|${cand.tag ?? ''}|${cand.digest ?? ''}|${repositoryName(cand)}|${who}`, () => this.pullFromWithRetry(cand, src, opts));
        } catch (err) {
          lastErr = err;
          errors.push(`${src.host}/${src.path}: ${(err as Error).message}`);
          this.log('pull source failed', { source: `${src.host}/${src.path}`, mirror: src.mirror, error: (err as Error).message });
          // Content problems are final: another source would not make a bad image good... except a mirror, which may be stale.
          if (err instanceof PullError && !src.mirror) break;
        }
      }
    }
    if (errors.length === 1 && lastErr instanceof Error) throw lastErr;
    if (lastErr instanceof RegistryBlockedError) throw new RegistryBlockedError(`pulling ${ref} failed: ${errors.join('; ')}`);
    if (lastErr instanceof PullError) throw new PullError(`pulling ${ref} failed: ${errors.join('; ')}`);
    const status = lastErr instanceof RegistryError ? lastErr.status : undefined;
    throw new RegistryError(`pulling ${ref} failed: ${errors.join('; ')}`, status);
  }

  private async pullFromWithRetry(ref: ImageReference, src: PullSource, opts: PullRequestOptions): Promise<ImageRecord> {
    try {
      return await this.pullFrom(ref, src, opts);
    } catch (err) {
      if ((err as Error).message.includes('vanished during the pull')) return this.pullFrom(ref, src, opts);
      throw err;
    }
  }

  private async pullFrom(ref: ImageReference, src: PullSource, opts: PullRequestOptions): Promise<ImageRecord> {
    const client = new RegistryClient(src.host, {
      insecure: src.insecure || isLoopbackHost(src.host),
      credentials: opts.credentials,
      connectTimeoutMs: this.options.connectTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    const added = { blobs: [] as string[], layers: [] as string[] };
    // Announce the pull (a lock row of its own) so another process opening the
    // store does not take what this pull committed, and no image uses yet, for leftovers.
    const releasePull = await this.store.lock(`pull:${process.pid}:${crypto.randomBytes(8).toString('hex')}`);
    try {
      const repo = src.path;
      const wanted = ref.digest ?? ref.tag!;
      const top = await this.fetchManifest(client, repo, wanted, ref.digest);
      const blobs: string[] = [];
      let manifest: ImageManifest;
      let manifestDigest = top.digest;
      const storeManifest = (m: { digest: string; body: Buffer }): void => {
        if (!this.store.hasBlob(m.digest)) {
          const tmp = path.join(this.store.tempDir(), 'manifest');
          fs.writeFileSync(tmp, m.body);
          this.store.commitBlob(m.digest, tmp, m.body.length);
          added.blobs.push(m.digest);
        }
        blobs.push(m.digest);
      };
      storeManifest(top);
      if (top.parsed.kind === 'index') {
        let entry: Descriptor;
        try {
          entry = selectPlatform(top.parsed, this.options.platform ?? hostPlatform());
        } catch (err) {
          throw err instanceof ManifestError ? new PullError(`${src.host}/${repo}:${wanted}: ${err.message}`) : err;
        }
        const child = await this.fetchManifest(client, repo, entry.digest, entry.digest);
        if (child.parsed.kind !== 'manifest') throw new PullError(`index entry ${entry.digest} is not an image manifest`);
        storeManifest(child);
        manifest = child.parsed;
        // The repo digest of a pull through an index is the index digest (what a user pins), as in Docker and CRI-O.
        manifestDigest = top.digest;
      } else manifest = top.parsed;

      for (const l of manifest.layers) {
        if (LAYER_MEDIA_TYPES[l.mediaType] === undefined) throw new PullError(`layer ${l.digest} has an unsupported media type "${l.mediaType}"`);
        checkDigest(l.digest);
      }
      checkDigest(manifest.config.digest);
      if (manifest.config.mediaType && !CONFIG_MEDIA_TYPES.includes(manifest.config.mediaType)) {
        throw new PullError(`${ref.domain}/${ref.path} is not a container image: its config has media type "${manifest.config.mediaType}"`);
      }
      await this.ensureBlob(client, repo, manifest.config, added);
      blobs.push(manifest.config.digest);
      const configJson = fs.readFileSync(this.store.blobPath(manifest.config.digest), 'utf8');
      let config: OciImageConfig;
      try {
        config = JSON.parse(configJson) as OciImageConfig;
      } catch {
        throw new PullError(`image config ${manifest.config.digest} is not valid JSON`);
      }
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new PullError(`image config lists ${diffIds.length} diff IDs but the manifest has ${manifest.layers.length} layers`);
      }
      const chains = chainIds(diffIds);
      const progress = opts.onProgress;
      progress?.({ type: 'resolved', reference: `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`, manifestDigest, layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })) });
      for (const l of manifest.layers) progress?.({ type: 'layer', digest: l.digest, size: l.size, fetched: 0, state: 'waiting' });
      await mapLimit(manifest.layers, this.options.maxConcurrentDownloads ?? 3, async (desc, i) => {
        const report = (state: 'downloading' | 'exists' | 'unpacking' | 'done', fetched: number): void => progress?.({ type: 'layer', digest: desc.digest, size: desc.size, fetched, state });
        if (this.store.getLayer(chains[i]) && this.store.hasBlob(desc.digest)) {
          report('exists', desc.size);
          return;
        }
        await this.ensureBlob(client, repo, desc, added, progress && ((n) => report('downloading', n)));
        report('unpacking', desc.size);
        await this.ensureLayer(desc, diffIds[i], chains[i], added);
        report('done', desc.size);
      });
      for (const l of manifest.layers) blobs.push(l.digest);
      const image = this.store.commitImage({
        id: manifest.config.digest,
        configJson,
        manifestDigest,
        repository: repositoryName(ref),
        tag: ref.tag,
        chainIds: chains,
        blobs: [...new Set(blobs)],
      });
      progress?.({ type: 'done', imageId: image.id });
      return image;
    } catch (err) {
      this.store.removeUnused(added.layers, added.blobs);
      throw err;
    } finally {
      releasePull();
      await client.close();
    }
  }

  /** GETs a manifest (capped at 4 MiB); verifies its digest when `expectDigest` is set. */
  private async fetchManifest(client: RegistryClient, repo: string, reference: string, expectDigest: string | undefined): Promise<{ body: Buffer; digest: string; parsed: ImageManifest | ImageIndex }> {
    const res = await client.get(repo, `manifests/${reference}`, MANIFEST_ACCEPT);
    const len = Number(res.headers['content-length'] ?? 0);
    if (len > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new PullError(`manifest ${repo}:${reference} is ${len} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of res.body) {
      total += (c as Buffer).length;
      if (total > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw new PullError(`manifest ${repo}:${reference} is over the ${MAX_MANIFEST_BYTES}-byte limit`);
      }
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    let digest: string;
    if (expectDigest) {
      const actual = `${checkDigest(expectDigest).algorithm}:` + hasher(expectDigest).update(body).digest('hex');
      if (actual !== expectDigest) throw new PullError(`manifest digest mismatch: asked for ${expectDigest}, got ${actual}`);
      digest = expectDigest;
    } else digest = 'sha256:' + crypto.createHash('sha256').update(body).digest('hex');
    let parsed;
    try {
      parsed = parseManifest(body, res.headers['content-type'] as string | undefined);
    } catch (err) {
      if (err instanceof ManifestError) throw new PullError(`${client.host}/${repo}:${reference}: ${err.message}`);
      throw err;
    }
    return { body, digest, parsed };
  }

  /** Makes sure the content store has the blob: downloads, verifies and stores it once (in-process and across processes). */
  private ensureBlob(client: RegistryClient, repo: string, desc: Descriptor, added: { blobs: string[] }, onBytes?: (fetched: number) => void): Promise<void> {
    if (this.store.hasBlob(desc.digest)) return Promise.resolve();
    return this.single(`blob:${desc.digest}`, async () => {
      const release = await this.store.lock(`blob:${desc.digest}`);
      try {
        if (this.store.hasBlob(desc.digest)) return;
        let lastErr: unknown;
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            const { file, size } = await this.download(client, repo, desc, onBytes);
            this.store.commitBlob(desc.digest, file, size);
            added.blobs.push(desc.digest);
            return;
          } catch (err) {
            lastErr = err;
            if (err instanceof PullError || (err instanceof RegistryError && err.status !== undefined)) throw err;
            this.log('blob download failed, retrying', { digest: desc.digest, attempt, error: (err as Error).message });
          }
        }
        throw lastErr;
      } finally {
        release();
      }
    });
  }

  private async download(client: RegistryClient, repo: string, desc: Descriptor, onBytes?: (fetched: number) => void): Promise<{ file: string; size: number }> {
    const res = await client.get(repo, `blobs/${desc.digest}`);
    const file = path.join(this.store.tempDir(), 'blob');
    const h = hasher(desc.digest);
    let size = 0;
    let reported = 0;
    onBytes?.(0);
    const counter = new PassThrough();
    counter.on('data', (c: Buffer) => {
      size += c.length;
      h.update(c);
      if (onBytes && size - reported >= PROGRESS_STEP) {
        reported = size;
        onBytes(size);
      }
    });
    await pipeline(res.body, counter, fs.createWriteStream(file, { mode: 0o600 }));
    const actual = `${checkDigest(desc.digest).algorithm}:${h.digest('hex')}`;
    if (actual !== desc.digest) {
      fs.rmSync(file, { force: true });
      throw new PullError(`blob digest mismatch: expected ${desc.digest}, got ${actual} (${size} bytes)`);
    }
    if (desc.size !== undefined && size !== desc.size) {
      fs.rmSync(file, { force: true });
      throw new PullError(`blob ${desc.digest} is ${size} bytes, the manifest says ${desc.size}`);
    }
    const fd = fs.openSync(file, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    return { file, size };
  }

  /** Makes sure the layer store has the chain ID: unpacks the stored blob once, checking the diff ID. */
  private ensureLayer(desc: Descriptor, diffId: string, chainId: string, added: { layers: string[] }): Promise<void> {
    if (this.store.getLayer(chainId)) return Promise.resolve();
    return this.single(`layer:${chainId}`, async () => {
      const release = await this.store.lock(`layer:${chainId}`);
      try {
        if (this.store.getLayer(chainId)) return;
        const tmp = this.store.tempDir();
        const diff = path.join(tmp, 'diff');
        fs.mkdirSync(diff, { mode: 0o755 });
        const h = hasher(diffId);
        const tap = new PassThrough();
        tap.on('data', (c: Buffer) => h.update(c));
        const input = fs.createReadStream(this.store.blobPath(desc.digest));
        const dec = decompressStream(LAYER_MEDIA_TYPES[desc.mediaType]);
        input.on('error', (e) => dec.destroy(e));
        dec.on('error', (e) => tap.destroy(e));
        input.pipe(dec).pipe(tap);
        let result;
        try {
          result = await unpackLayer(tap, diff);
          // Drain what the tar reader left (end-of-archive padding) so the hash covers every byte.
          if (!tap.readableEnded) await new Promise<void>((resolve, reject) => tap.on('end', resolve).on('error', reject).resume());
        } catch (err) {
          input.destroy();
          fs.rmSync(tmp, { recursive: true, force: true });
          throw new PullError(`layer ${desc.digest}: ${(err as Error).message}`);
        }
        const actual = `${checkDigest(diffId).algorithm}:${h.digest('hex')}`;
        if (actual !== diffId) {
          fs.rmSync(tmp, { recursive: true, force: true });
          throw new PullError(`layer ${desc.digest}: uncompressed digest ${actual} does not match the config's diff ID ${diffId}`);
        }
        this.store.commitLayer(chainId, diffId, tmp, result.size);
        added.layers.push(chainId);
      } finally {
        release();
      }
    });
  }
}
