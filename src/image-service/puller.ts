/**
 * Pulls an image from a registry into the ImageStore.
 *
 * Steps: resolve the reference (short names through
 * unqualified-search-registries), pick the sources (mirrors, then the
 * registry, from registries.conf), fetch the manifest (an index picks the
 * host's platform), fetch the config, then every layer in parallel
 * (bounded). A layer is one pass over its bytes in a worker thread
 * (store/layer-job.ts): the download is hashed and written to the blob's
 * temp file while it is decompressed, hashed again and unpacked; both
 * digests are checked, the files made durable, and only then are the blob
 * and the layer recorded and moved into place. A layer whose blob is stored
 * already is unpacked from that file. The event loop only moves the bytes
 * from the socket to the worker.
 *
 * A layer or blob is fetched once: an in-process single flight and a
 * cross-process lock (SQLite row) per digest/chain ID (the blob's lock is
 * always taken before the layer's). When the pull fails, what it added and
 * no image uses is removed again.
 *
 * Bounds (distribution-spec responses are untrusted): manifests and configs
 * at most 4 MiB (MAX_MANIFEST_BYTES, MAX_CONFIG_BYTES), refused on their
 * Content-Length or descriptor size before reading, and read no further
 * than one byte past it; a blob is read no further than its descriptor's
 * size plus one byte, and never more than that size reaches the disk; at
 * most MAX_LAYERS layers.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { checkDigest, formatReference, ImageReference, parseReference, repositoryName, withDomain } from './reference';
import { LAYER_MEDIA_TYPES, Descriptor, hostPlatform, ImageIndex, ImageManifest, MANIFEST_ACCEPT, ManifestError, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseManifest, Platform, selectPlatform } from './manifest';
import { pullSources, RegistriesConf, RegistryBlockedError, PullSource } from './registries-conf';
import { isLoopbackHost, readBounded, RegistryClient, RegistryCredentials, RegistryError } from './registry-client';
import { ImageRecord, ImageStore, OciImageConfig } from './store/image-store';
import { LayerJobError, LayerJobSpec } from './store/layer-job';
import { BlobFetchError, BlobFetchSpec } from './store/layer-fetch';
import { LayerWorkerPool, sharedLayerWorkers } from './store/layer-workers';
import { PeapodError } from '../common/errors';

/** A pull that failed for a reason the caller should see (bad manifest, digest mismatch, no platform, blocked). */
export class PullError extends PeapodError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'PullError';
  }
}

/** Progress of one pull, for a front end to draw (bytes are of the compressed blobs). */
export type PullProgress =
  | { type: 'resolved'; reference: string; manifestDigest: string; layers: { digest: string; size: number }[] }
  | { type: 'layer'; digest: string; size: number; fetched: number; state: 'waiting' | 'downloading' | 'exists' | 'unpacking' | 'done' }
  | { type: 'done'; imageId: string };

/** Puller settings. */
export interface PullerOptions {
  /** The registries configuration, or a function read at each pull (so edits apply without a restart). */
  registries: RegistriesConf | (() => RegistriesConf);
  /** Layers downloaded at once per pull, and layer worker threads of the process at least (default 3). */
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

/** Per-pull options. */
export interface PullRequestOptions {
  credentials?: RegistryCredentials;
  /**
   * Receives the pull's progress: `resolved` once the manifest is read;
   * per layer `waiting`, then `exists` (blob and layer stored already) or
   * `downloading` (at the start, then at most once per 64 KiB and 1% of the
   * layer), `unpacking` (the download is in, the layer is being finished),
   * `done`; finally `done` with the image ID. Called synchronously; what it
   * throws is ignored.
   */
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

/** Least bytes between two `downloading` events of a layer. */
const PROGRESS_STEP = 64 << 10;

function hasher(digest: string): crypto.Hash {
  return crypto.createHash(checkDigest(digest).algorithm);
}

function digestOf(digest: string, data: Buffer): string {
  return `${checkDigest(digest).algorithm}:${hasher(digest).update(data).digest('hex')}`;
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

type LayerState = Extract<PullProgress, { type: 'layer' }>['state'];
type LayerListener = (state: LayerState, fetched: number) => void;

/** What one pull from one source carries through its steps. */
interface PullContext {
  client: RegistryClient;
  repo: string;
  added: { blobs: string[]; layers: string[] };
  emit: (e: PullProgress) => void;
  /**
   * Stores of the manifests and the config still being made durable: they
   * run beside the layer downloads (each is verified before it starts) and
   * the image is committed only once all are done.
   */
  storing: Promise<void>[];
}

/** Pulls images into a store. One per process is enough; it is safe to call pull concurrently. */
export class ImagePuller {
  private readonly flights = new Map<string, Promise<unknown>>();
  /** Layer flights with the progress listeners of every pull waiting on them. */
  private readonly layerFlights = new Map<string, { promise: Promise<void>; listeners: Set<LayerListener> }>();
  private readonly workers: LayerWorkerPool;

  constructor(
    private readonly store: ImageStore,
    private readonly options: PullerOptions,
  ) {
    this.workers = sharedLayerWorkers(options.maxConcurrentDownloads ?? 3);
  }

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
    const onProgress = opts.onProgress;
    const emit = (e: PullProgress): void => {
      if (!onProgress) return;
      try {
        onProgress(e);
      } catch (err) {
        this.log('pull progress listener failed', { error: (err as Error).message });
      }
    };
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
          const key = `${src.host}/${src.path}|${cand.tag ?? ''}|${cand.digest ?? ''}|${repositoryName(cand)}|${who}`;
          // A caller with a progress listener runs its own pull (sharing layer flights), so it sees its events.
          const img = onProgress ? await this.pullFromWithRetry(cand, src, opts, emit) : await this.single(key, () => this.pullFromWithRetry(cand, src, opts, emit));
          emit({ type: 'done', imageId: img.id });
          return img;
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

  private async pullFromWithRetry(ref: ImageReference, src: PullSource, opts: PullRequestOptions, emit: (e: PullProgress) => void): Promise<ImageRecord> {
    try {
      return await this.pullFrom(ref, src, opts, emit);
    } catch (err) {
      if ((err as Error).message.includes('vanished during the pull')) return this.pullFrom(ref, src, opts, emit);
      throw err;
    }
  }

  private async pullFrom(ref: ImageReference, src: PullSource, opts: PullRequestOptions, emit: (e: PullProgress) => void): Promise<ImageRecord> {
    const client = new RegistryClient(src.host, {
      insecure: src.insecure || isLoopbackHost(src.host),
      credentials: opts.credentials,
      connectTimeoutMs: this.options.connectTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    const ctx: PullContext = { client, repo: src.path, added: { blobs: [], layers: [] }, emit, storing: [] };
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
      // Verified already (fetchManifest): stored beside what follows, awaited before the commit.
      const storeManifest = (m: { digest: string; body: Buffer }): void => {
        if (!this.store.hasBlob(m.digest)) {
          const storing = this.store.putBlob(m.digest, m.body).then(() => void ctx.added.blobs.push(m.digest));
          storing.catch(() => undefined); // awaited before the commit (or the cleanup); never an unhandled rejection meanwhile
          ctx.storing.push(storing);
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
      emit({ type: 'resolved', reference: formatReference(ref), manifestDigest, layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })) });
      const configJson = await this.ensureConfig(ctx, manifest.config);
      blobs.push(manifest.config.digest);
      let config: OciImageConfig;
      try {
        config = JSON.parse(configJson) as OciImageConfig;
      } catch {
        throw new PullError(`image config ${manifest.config.digest} is not valid JSON`);
      }
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
        throw new PullError(`image config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff IDs but the manifest has ${manifest.layers.length} layers`);
      }
      for (const d of diffIds) checkDigest(d);
      const chains = chainIds(diffIds);
      for (const l of manifest.layers) emit({ type: 'layer', digest: l.digest, size: l.size, fetched: 0, state: 'waiting' });
      await mapLimit(manifest.layers, this.options.maxConcurrentDownloads ?? 3, (desc, i) => this.ensureLayer(ctx, desc, diffIds[i], chains[i]));
      for (const l of manifest.layers) blobs.push(l.digest);
      await Promise.all(ctx.storing);
      return this.store.commitImage({
        id: manifest.config.digest,
        configJson,
        manifestDigest,
        repository: repositoryName(ref),
        tag: ref.tag,
        chainIds: chains,
        blobs: [...new Set(blobs)],
      });
    } catch (err) {
      // What is still being stored counts as added once it is.
      await Promise.allSettled(ctx.storing);
      this.store.removeUnused(ctx.added.layers, ctx.added.blobs);
      throw err;
    } finally {
      releasePull();
      await client.close();
    }
  }

  /**
   * GETs a 2xx body of at most `max` bytes: refused on its Content-Length,
   * and read no further than one byte past `max`.
   * @throws PullError naming `what` when it is larger.
   */
  private async readSmall(body: Readable, headers: Record<string, string | string[] | undefined>, max: number, what: string): Promise<Buffer> {
    const len = Number(headers['content-length'] ?? 0);
    if (len > max) {
      body.destroy();
      throw new PullError(`${what} is ${len} bytes, over the ${max}-byte limit`);
    }
    const { data, overflow } = await readBounded(body, max);
    if (overflow) throw new PullError(`${what} is over the ${max}-byte limit`);
    return data;
  }

  /** GETs a manifest (capped at 4 MiB); verifies its digest when `expectDigest` is set. */
  private async fetchManifest(client: RegistryClient, repo: string, reference: string, expectDigest: string | undefined): Promise<{ body: Buffer; digest: string; parsed: ImageManifest | ImageIndex }> {
    const res = await client.get(repo, `manifests/${reference}`, MANIFEST_ACCEPT);
    const body = await this.readSmall(res.body, res.headers, MAX_MANIFEST_BYTES, `manifest ${repo}:${reference}`);
    let digest: string;
    if (expectDigest) {
      const actual = digestOf(expectDigest, body);
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

  /**
   * The image config's JSON: from the store, or downloaded (at most 4 MiB,
   * checked against the descriptor's digest and size) and stored. The JSON
   * is returned once verified; its store (file, fsync, rename, directory
   * fsync, row, under the blob's lock) goes on in `ctx.storing`.
   * @throws PullError for a config over the limit or not matching its descriptor.
   */
  private async ensureConfig(ctx: PullContext, desc: Descriptor): Promise<string> {
    const what = `image config ${desc.digest}`;
    if (desc.size > MAX_CONFIG_BYTES) throw new PullError(`${what} is ${desc.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
    const fromStore = async (): Promise<string | undefined> => {
      if (!this.store.hasBlob(desc.digest)) return undefined;
      const data = await fsp.readFile(this.store.blobPath(desc.digest));
      if (data.length > MAX_CONFIG_BYTES) throw new PullError(`${what} is over the ${MAX_CONFIG_BYTES}-byte limit`);
      return data.toString('utf8');
    };
    const stored = await fromStore();
    if (stored !== undefined) return stored;
    // The flight settles once the config is verified; `storing` once it is durable and recorded (then the lock goes).
    const flight = await this.single(`blob:${desc.digest}`, async (): Promise<{ data: Buffer; storing: Promise<void> } | undefined> => {
      const release = await this.store.lock(`blob:${desc.digest}`);
      try {
        if (this.store.hasBlob(desc.digest)) {
          release();
          return undefined;
        }
        const data = await this.withRetries(desc, async () => {
          const res = await ctx.client.get(ctx.repo, `blobs/${desc.digest}`);
          return this.readSmall(res.body, res.headers, desc.size, what);
        });
        const actual = digestOf(desc.digest, data);
        if (actual !== desc.digest) throw new PullError(`${what}: digest mismatch: got ${actual}`);
        if (data.length !== desc.size) throw new PullError(`${what} is ${data.length} bytes, the manifest says ${desc.size}`);
        // Recorded as added by this pull, the one that fetched it (for its cleanup); a pull that joined the flight only waits.
        const storing = this.store
          .putBlob(desc.digest, data)
          .then(() => void ctx.added.blobs.push(desc.digest))
          .finally(release);
        storing.catch(() => undefined); // observed by every pull that waits on it
        return { data, storing };
      } catch (err) {
        release();
        throw err;
      }
    });
    if (flight) {
      ctx.storing.push(flight.storing);
      return flight.data.toString('utf8');
    }
    const after = await fromStore();
    if (after === undefined) throw new Error(`blob ${desc.digest} vanished during the pull`);
    return after;
  }

  /** Runs a download up to 3 times while it fails for network reasons (not for an HTTP status or bad content). */
  private async withRetries<T>(desc: Descriptor, fn: () => Promise<T>): Promise<T> {
    let lastErr: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return await fn();
      } catch (err) {
        lastErr = err;
        // Network failures are retried; an HTTP status, bad content or a failing disk is final.
        if (err instanceof PullError || err instanceof LayerJobError || (err instanceof RegistryError && err.status !== undefined)) throw err;
        this.log('blob download failed, retrying', { digest: desc.digest, attempt, error: (err as Error).message });
      }
    }
    throw lastErr;
  }

  /**
   * Makes sure the store has the layer's blob and its unpacked layer
   * (chain ID), sharing the work with every pull that needs the same.
   */
  private async ensureLayer(ctx: PullContext, desc: Descriptor, diffId: string, chainId: string): Promise<void> {
    let last = -1;
    const step = Math.max(PROGRESS_STEP, Math.ceil(desc.size / 100));
    const listener: LayerListener = (state, fetched) => {
      if (state === 'downloading') {
        if (last >= 0 && fetched - last < step && fetched < desc.size) return;
        last = fetched;
      }
      ctx.emit({ type: 'layer', digest: desc.digest, size: desc.size, fetched, state });
    };
    if (this.store.hasBlob(desc.digest) && this.store.getLayer(chainId)) {
      listener('exists', 0);
      return;
    }
    let flight = this.layerFlights.get(chainId);
    if (flight) flight.listeners.add(listener);
    else {
      const listeners = new Set<LayerListener>([listener]);
      const notify: LayerListener = (state, fetched) => {
        for (const l of listeners) l(state, fetched);
      };
      const promise = this.layerFlight(ctx, desc, diffId, chainId, notify).finally(() => this.layerFlights.delete(chainId));
      flight = { promise, listeners };
      this.layerFlights.set(chainId, flight);
    }
    try {
      await flight.promise;
    } finally {
      flight.listeners.delete(listener);
    }
    listener('done', desc.size);
  }

  private async layerFlight(ctx: PullContext, desc: Descriptor, diffId: string, chainId: string, notify: LayerListener): Promise<void> {
    if (!this.store.hasBlob(desc.digest)) await this.single(`blob:${desc.digest}`, () => this.fetchLayerBlob(ctx, desc, diffId, chainId, notify));
    if (this.store.getLayer(chainId)) return;
    const release = await this.store.lock(`layer:${chainId}`);
    try {
      if (this.store.getLayer(chainId)) return;
      if (!this.store.hasBlob(desc.digest)) throw new Error(`blob ${desc.digest} vanished during the pull`);
      notify('unpacking', desc.size);
      const tmp = this.store.tempDir();
      try {
        const layerDir = path.join(tmp, 'layer');
        await fsp.mkdir(path.join(layerDir, 'diff'), { recursive: true, mode: 0o755 });
        const result = await this.runJob(desc, {
          sourceFile: this.store.blobPath(desc.digest),
          unpack: { dir: path.join(layerDir, 'diff'), workDir: tmp, diffId, compression: LAYER_MEDIA_TYPES[desc.mediaType] },
        });
        await this.store.commitLayer(chainId, diffId, layerDir, result.unpacked!.size);
        ctx.added.layers.push(chainId);
      } finally {
        this.store.removeTemp(tmp);
      }
    } finally {
      release();
    }
  }

  /**
   * Downloads the layer's blob and, when the layer is missing too, unpacks
   * it in the same pass; records both once verified and durable.
   */
  private async fetchLayerBlob(ctx: PullContext, desc: Descriptor, diffId: string, chainId: string, notify: LayerListener): Promise<void> {
    const releaseBlob = await this.store.lock(`blob:${desc.digest}`);
    try {
      if (this.store.hasBlob(desc.digest)) return;
      let releaseLayer: (() => void) | undefined;
      if (!this.store.getLayer(chainId)) releaseLayer = await this.store.lock(`layer:${chainId}`);
      try {
        const unpackHere = releaseLayer !== undefined && !this.store.getLayer(chainId);
        await this.withRetries(desc, async () => {
          const tmp = this.store.tempDir();
          try {
            const layerDir = path.join(tmp, 'layer');
            if (unpackHere) await fsp.mkdir(path.join(layerDir, 'diff'), { recursive: true, mode: 0o755 });
            const spec: LayerJobSpec = {
              blob: { file: path.join(tmp, 'blob'), digest: desc.digest, size: desc.size },
              unpack: unpackHere ? { dir: path.join(layerDir, 'diff'), workDir: tmp, diffId, compression: LAYER_MEDIA_TYPES[desc.mediaType] } : undefined,
            };
            let fetched = 0;
            // The worker fetches the blob itself, with this pull's client's credentials, tokens and bounds.
            const fetch: BlobFetchSpec = { registry: ctx.client.handoff(), repo: ctx.repo, digest: desc.digest, size: desc.size };
            const result = await this.runJob(desc, spec, fetch, (n) => {
              fetched += n;
              notify('downloading', fetched);
              if (fetched === desc.size && unpackHere) notify('unpacking', fetched);
            });
            await this.store.commitBlob(desc.digest, spec.blob!.file, desc.size);
            ctx.added.blobs.push(desc.digest);
            if (unpackHere) {
              await this.store.commitLayer(chainId, diffId, layerDir, result.unpacked!.size);
              ctx.added.layers.push(chainId);
            }
          } finally {
            this.store.removeTemp(tmp);
          }
        });
      } finally {
        releaseLayer?.();
      }
    } finally {
      releaseBlob();
    }
  }

  /**
   * Runs a layer job in a worker, turning content failures into PullErrors
   * that name the layer, and a failed download of the worker's own
   * (`fetch`) into what a download on this thread would have thrown: a
   * PullError for a blob over its size, a RegistryError (final with an HTTP
   * status, retried without), or a plain Error (retried).
   */
  private async runJob(desc: Descriptor, spec: LayerJobSpec, fetch?: BlobFetchSpec, onBytes?: (n: number) => void) {
    try {
      return await this.workers.run(spec, { fetch, onBytes });
    } catch (err) {
      if (err instanceof LayerJobError) throw err.kind === 'content' ? new PullError(`layer ${desc.digest}: ${err.message}`) : new LayerJobError(`layer ${desc.digest}: ${err.message}`, 'io');
      if (err instanceof BlobFetchError) {
        if (err.kind === 'too-large') throw new PullError(err.message);
        if (err.kind === 'registry') throw new RegistryError(err.message, err.status);
        throw new Error(err.message);
      }
      throw err;
    }
  }
}
