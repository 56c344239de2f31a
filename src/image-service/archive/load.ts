/**
 * Loads images from an archive into the store, checked as strictly as a
 * registry pull: `docker save`/`podman save` docker-archives (manifest.json,
 * legacy `<id>/layer.tar` symlinks included) and OCI archives (oci-layout,
 * index.json, blobs/), each optionally gzip- or zstd-compressed as a whole.
 *
 * Safety: archive entries are never written under their own names: every
 * regular file goes to a numbered temp file in the store's tmp dir while its
 * SHA-256 is computed, so a name with `..`, an absolute path or a symlink
 * cannot write outside (such names are refused anyway, with the entry
 * named). Symlinks and hard links are resolved inside the archive's own
 * names only. Devices, FIFOs and other types are refused. Bounds: entries,
 * total bytes, JSON documents (4 MiB, as manifests from a registry), layers
 * per image, and an idle timeout on the input. Verification: every blob's
 * SHA-256 and size match its descriptor; each layer's uncompressed digest
 * matches the config's diff ID (checked while unpacking, store/unpack.ts
 * rules for its entries); the config's digest is the image ID. Nothing is
 * recorded for an archive that fails; what it added is removed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { importLayer } from '../layer-import';
import { hostPlatform, LAYER_MEDIA_TYPES, MAX_MANIFEST_BYTES, MEDIA_OCI_MANIFEST, parseManifest, selectPlatform } from '../manifest';
import { chainIds } from '../puller';
import { checkDigest, formatReference, parseReference, repositoryName } from '../reference';
import { decompressStream } from './decompress';
import type { LayerCompression } from '../store/layer-job';
import type { ImageStore, OciImageConfig } from '../store/image-store';

/** Limits of one load. */
export interface LoadLimits {
  /** Bytes of the (decompressed) archive (default 64 GiB). */
  maxArchiveBytes: number;
  /** Entries in the archive (default 10000). */
  maxEntries: number;
  /** Bytes of one JSON document: index, manifest, config (default 4 MiB). */
  maxJsonBytes: number;
  /** Layers of one image (default 500). */
  maxLayers: number;
  /** Characters of one entry name (default 1024). */
  maxNameLength: number;
  /** Milliseconds the input may go without data (default 60000). */
  idleTimeoutMs: number;
}

/** The bounds of a `load` when the caller sets none (LoadLimits: bytes, entry counts, name lengths, ms). */
export const DEFAULT_LOAD_LIMITS: LoadLimits = {
  maxArchiveBytes: 64 * 1024 ** 3,
  maxEntries: 10_000,
  maxJsonBytes: MAX_MANIFEST_BYTES,
  maxLayers: 500,
  maxNameLength: 1024,
  idleTimeoutMs: 60_000,
};

/** An archive refused: unsafe, malformed, over a limit or not matching its digests. The message says which entry or blob. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** One loaded image. */
export interface LoadedImage {
  id: string;
  /** Normalized names recorded (empty: an unnamed image). */
  names: string[];
}

/** Progress lines of a load, as Podman prints them. */
export type LoadProgress = { kind: 'blob'; digest: string; exists: boolean } | { kind: 'config'; digest: string } | { kind: 'manifest' };

interface FileEntry {
  file: string;
  size: number;
  sha256: string;
}

/** The archive's files by normalized name, and its links. */
interface ArchiveContents {
  files: Map<string, FileEntry>;
  links: Map<string, string>;
  tmp: string;
}

/**
 * Normalizes an entry name (`./a//b/` → `a/b`).
 * @throws ArchiveError for an absolute name, a `..` component, a NUL or an over-long name.
 */
export function entryName(raw: string, maxLength = DEFAULT_LOAD_LIMITS.maxNameLength): string {
  if (raw.length > maxLength) throw new ArchiveError(`archive entry name longer than ${maxLength} characters`);
  if (raw.includes('\0')) throw new ArchiveError(`archive entry "${raw.replace(/\0/g, '\\0')}" has a NUL in its name`);
  if (raw.startsWith('/')) throw new ArchiveError(`archive entry "${raw}" has an absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(`archive entry "${raw}" escapes the archive with ".."`);
  return parts.join('/');
}

function idleGuard(ms: number): Transform {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => t.destroy(new ArchiveError(`the archive input sent no data for ${ms / 1000} s`)), ms);
    timer.unref();
  };
  const t: Transform = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      if (timer) clearTimeout(timer);
      cb();
    },
  });
  arm();
  t.on('close', () => timer && clearTimeout(timer));
  return t;
}

/** Detects whole-archive compression from the first bytes (gzip 1f8b, zstd 28b52ffd). */
function compressionOf(head: Buffer): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Reads the first `n` bytes of a stream and gives back a stream of all of it. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let got = 0;
  for (;;) {
    if (got >= n) break;
    const c = input.read() as Buffer | null;
    if (c === null) {
      if (input.readableEnded || input.destroyed) break;
      const ended = await new Promise<boolean>((resolve, reject) => {
        const onReadable = (): void => (cleanup(), resolve(false));
        const onEnd = (): void => (cleanup(), resolve(true));
        const onError = (e: Error): void => (cleanup(), reject(e));
        const cleanup = (): void => {
          input.off('readable', onReadable);
          input.off('end', onEnd);
          input.off('error', onError);
        };
        input.on('readable', onReadable);
        input.on('end', onEnd);
        input.on('error', onError);
      });
      if (ended) break;
      continue;
    }
    chunks.push(c);
    got += c.length;
  }
  const head = Buffer.concat(chunks);
  const out = new PassThrough();
  out.write(head);
  input.pipe(out);
  if (input.readableEnded) out.end();
  input.on('error', (e) => out.destroy(e));
  return { head, stream: out };
}

async function readArchive(store: ImageStore, input: Readable, limits: LoadLimits): Promise<ArchiveContents> {
  const tmp = store.tempDir();
  const files = new Map<string, FileEntry>();
  const links = new Map<string, string>();
  const seen = new Set<string>();
  let entries = 0;
  let total = 0;
  const guarded = input.pipe(idleGuard(limits.idleTimeoutMs));
  input.on('error', (e) => guarded.destroy(e));
  const { head, stream } = await peek(guarded, 4);
  const compression = head.length >= 4 ? compressionOf(head) : 'none';
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, entry, next) => {
      // A refused entry destroys the extractor and with it this entry: its error is the extractor's.
      entry.on('error', () => undefined);
      const fail = (err: Error): void => {
        entry.resume();
        extract.destroy(err);
      };
      try {
        if (++entries > limits.maxEntries) throw new ArchiveError(`the archive has more than ${limits.maxEntries} entries`);
        const name = entryName(h.name, limits.maxNameLength);
        if (h.type === 'directory') {
          entry.resume();
          entry.on('end', () => next());
          return;
        }
        if (name === '') throw new ArchiveError(`archive entry "${h.name}" has no name`);
        if (seen.has(name)) throw new ArchiveError(`archive entry "${name}" appears twice`);
        seen.add(name);
        if (h.type === 'symlink' || h.type === 'link') {
          const target = h.linkname ?? '';
          if (target.startsWith('/')) throw new ArchiveError(`archive entry "${name}" links to the absolute path "${target}"`);
          const base = h.type === 'symlink' ? path.posix.dirname(name) : '';
          const joined = path.posix.normalize(path.posix.join(base === '.' ? '' : base, target));
          if (joined.startsWith('..') || joined === '.') throw new ArchiveError(`archive entry "${name}" links outside the archive ("${target}")`);
          links.set(name, entryName(joined, limits.maxNameLength));
          entry.resume();
          entry.on('end', () => next());
          return;
        }
        if (h.type !== 'file' && h.type !== 'contiguous-file') throw new ArchiveError(`archive entry "${name}" has the unsupported type ${String(h.type)}`);
        total += h.size ?? 0;
        if (total > limits.maxArchiveBytes) throw new ArchiveError(`the archive holds more than ${limits.maxArchiveBytes} bytes`);
        const file = path.join(tmp, `e${entries}`);
        const hash = crypto.createHash('sha256');
        let size = 0;
        const counter = new PassThrough();
        counter.on('data', (c: Buffer) => {
          size += c.length;
          hash.update(c);
        });
        pipeline(entry as unknown as Readable, counter, fs.createWriteStream(file, { mode: 0o600 })).then(
          () => {
            files.set(name, { file, size, sha256: `sha256:${hash.digest('hex')}` });
            next();
          },
          (err: Error) => fail(err),
        );
      } catch (err) {
        fail(err as Error);
      }
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  const source = compression === 'none' ? stream : stream.pipe(decompressStream(compression));
  stream.on('error', (e) => extract.destroy(e));
  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract);
  try {
    await done;
  } catch (err) {
    throw err instanceof ArchiveError ? err : new ArchiveError(`reading the archive: ${(err as Error).message}`);
  }
  return { files, links, tmp };
}

/** The file entry `name` leads to, following links inside the archive (8 hops at most). */
function resolveEntry(a: ArchiveContents, name: string): FileEntry | undefined {
  let n = name;
  for (let hops = 0; hops <= 8; hops++) {
    const f = a.files.get(n);
    if (f) return f;
    const next = a.links.get(n);
    if (next === undefined) return undefined;
    n = next;
  }
  throw new ArchiveError(`archive entry "${name}": too many links`);
}

function readJsonEntry<T>(a: ArchiveContents, name: string, limits: LoadLimits): T {
  const f = resolveEntry(a, name);
  if (!f) throw new ArchiveError(`the archive has no "${name}"`);
  if (f.size > limits.maxJsonBytes) throw new ArchiveError(`archive entry "${name}" is ${f.size} bytes, over the ${limits.maxJsonBytes}-byte limit`);
  try {
    return JSON.parse(fs.readFileSync(f.file, 'utf8')) as T;
  } catch {
    throw new ArchiveError(`archive entry "${name}" is not valid JSON`);
  }
}

/** A blob of the image as it will be stored. */
interface PlannedBlob {
  digest: string;
  entry: FileEntry;
}

/** One image found in the archive, verified, not stored yet. */
interface PlannedImage {
  id: string;
  configJson: string;
  configEntry: FileEntry;
  manifest: { digest: string; body: Buffer };
  layers: { blob: PlannedBlob; compression: LayerCompression; diffId: string }[];
  names: string[];
}

function verifyBlob(a: ArchiveContents, name: string, digest: string, size: number | undefined): FileEntry {
  const f = resolveEntry(a, name);
  if (!f) throw new ArchiveError(`the archive has no blob ${digest} ("${name}")`);
  const { algorithm } = checkDigest(digest);
  const actual = algorithm === 'sha256' ? f.sha256 : `${algorithm}:${crypto.createHash(algorithm).update(fs.readFileSync(f.file)).digest('hex')}`;
  if (actual !== digest) throw new ArchiveError(`blob "${name}": digest mismatch: expected ${digest}, got ${actual}`);
  if (size !== undefined && f.size !== size) throw new ArchiveError(`blob ${digest} is ${f.size} bytes, its descriptor says ${size}`);
  return f;
}

function parseConfig(text: string, what: string, limits: LoadLimits, layerCount: number): OciImageConfig {
  let config: OciImageConfig;
  try {
    config = JSON.parse(text) as OciImageConfig;
  } catch {
    throw new ArchiveError(`${what} is not valid JSON`);
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.length !== layerCount) throw new ArchiveError(`${what} lists ${Array.isArray(diffIds) ? diffIds.length : 0} diff IDs but the image has ${layerCount} layers`);
  if (layerCount > limits.maxLayers) throw new ArchiveError(`${what}: ${layerCount} layers, over the limit of ${limits.maxLayers}`);
  for (const d of diffIds) {
    try {
      checkDigest(d);
    } catch (err) {
      throw new ArchiveError(`${what}: ${(err as Error).message}`);
    }
  }
  return config;
}

/** A name as recorded: a full reference normalized; anything else (a bare tag, garbage) gives no name. */
function normalizeName(n: unknown): string | undefined {
  if (typeof n !== 'string' || !n.includes('/') && !n.includes(':')) return undefined;
  try {
    const r = parseReference(n);
    return r.digest ? undefined : formatReference(r);
  } catch {
    return undefined;
  }
}

function planOci(a: ArchiveContents, limits: LoadLimits): PlannedImage[] {
  const layout = readJsonEntry<{ imageLayoutVersion?: string }>(a, 'oci-layout', limits);
  if (layout.imageLayoutVersion !== '1.0.0') throw new ArchiveError(`oci-layout: unsupported imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)}`);
  const index = readJsonEntry<{ manifests?: { mediaType?: string; digest: string; size: number; annotations?: Record<string, string> }[] }>(a, 'index.json', limits);
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) throw new ArchiveError('index.json lists no manifests');
  const blobName = (digest: string): string => {
    const { algorithm, hex } = checkDigest(digest);
    return `blobs/${algorithm}/${hex}`;
  };
  const out: PlannedImage[] = [];
  for (const desc of index.manifests) {
    if (typeof desc?.digest !== 'string') throw new ArchiveError('index.json has a manifest without a digest');
    let digest = desc.digest;
    let size: number | undefined = desc.size;
    let body: Buffer;
    let parsed;
    for (let depth = 0; ; depth++) {
      const f = verifyBlob(a, blobName(digest), digest, size);
      if (f.size > limits.maxJsonBytes) throw new ArchiveError(`manifest ${digest} is over the ${limits.maxJsonBytes}-byte limit`);
      body = fs.readFileSync(f.file);
      try {
        parsed = parseManifest(body, undefined);
      } catch (err) {
        throw new ArchiveError(`manifest ${digest}: ${(err as Error).message}`);
      }
      if (parsed.kind === 'manifest') break;
      if (depth > 0) throw new ArchiveError(`index ${digest} nests another index`);
      const pick = selectPlatform(parsed, hostPlatform());
      digest = pick.digest;
      size = pick.size;
    }
    const manifest = parsed;
    const cfgEntry = verifyBlob(a, blobName(manifest.config.digest), manifest.config.digest, manifest.config.size);
    if (cfgEntry.size > limits.maxJsonBytes) throw new ArchiveError(`config ${manifest.config.digest} is over the ${limits.maxJsonBytes}-byte limit`);
    const configJson = fs.readFileSync(cfgEntry.file, 'utf8');
    const config = parseConfig(configJson, `config ${manifest.config.digest}`, limits, manifest.layers.length);
    const layers = manifest.layers.map((l, i) => {
      const compression = LAYER_MEDIA_TYPES[l.mediaType];
      if (compression === undefined) throw new ArchiveError(`layer ${l.digest} has an unsupported media type "${l.mediaType}"`);
      return { blob: { digest: l.digest, entry: verifyBlob(a, blobName(l.digest), l.digest, l.size) }, compression, diffId: config.rootfs!.diff_ids[i] };
    });
    const ann = desc.annotations ?? {};
    const name = normalizeName(ann['io.containerd.image.name']) ?? normalizeName(ann['org.opencontainers.image.ref.name']);
    out.push({ id: manifest.config.digest, configJson, configEntry: cfgEntry, manifest: { digest, body }, layers, names: name ? [name] : [] });
  }
  return out;
}

async function sniffCompression(file: string): Promise<LayerCompression> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fd.read(buf, 0, 4, 0);
    return bytesRead === 4 ? compressionOf(buf) : 'none';
  } finally {
    await fd.close();
  }
}

async function planDocker(a: ArchiveContents, limits: LoadLimits): Promise<PlannedImage[]> {
  const list = readJsonEntry<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]>(a, 'manifest.json', limits);
  if (!Array.isArray(list) || list.length === 0) throw new ArchiveError('manifest.json lists no images');
  const out: PlannedImage[] = [];
  for (const item of list) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) throw new ArchiveError('manifest.json has an entry without Config or Layers');
    const cfgName = entryName(item.Config, limits.maxNameLength);
    const cfgEntry = resolveEntry(a, cfgName);
    if (!cfgEntry) throw new ArchiveError(`the archive has no config "${cfgName}"`);
    if (cfgEntry.size > limits.maxJsonBytes) throw new ArchiveError(`config "${cfgName}" is over the ${limits.maxJsonBytes}-byte limit`);
    const configJson = fs.readFileSync(cfgEntry.file, 'utf8');
    const config = parseConfig(configJson, `config "${cfgName}"`, limits, item.Layers.length);
    const layers = [];
    for (let i = 0; i < item.Layers.length; i++) {
      const ln = entryName(String(item.Layers[i]), limits.maxNameLength);
      const entry = resolveEntry(a, ln);
      if (!entry) throw new ArchiveError(`the archive has no layer "${ln}"`);
      const compression = await sniffCompression(entry.file);
      layers.push({ blob: { digest: entry.sha256, entry }, compression, diffId: config.rootfs!.diff_ids[i] });
    }
    // A docker-archive has no manifest: make the OCI manifest a registry would serve for these blobs.
    const mediaOf = (c: LayerCompression): string => (c === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : c === 'zstd' ? 'application/vnd.oci.image.layer.v1.tar+zstd' : 'application/vnd.oci.image.layer.v1.tar');
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgEntry.sha256, size: cfgEntry.size },
        layers: layers.map((l) => ({ mediaType: mediaOf(l.compression), digest: l.blob.digest, size: l.blob.entry.size })),
      }),
    );
    const names = (item.RepoTags ?? []).map(normalizeName).filter((n): n is string => n !== undefined);
    out.push({ id: cfgEntry.sha256, configJson, configEntry: cfgEntry, manifest: { digest: `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`, body }, layers, names });
  }
  return out;
}

/**
 * Reads an archive from `input` and records its images in `store`.
 * @returns the images loaded, in archive order.
 * @throws ArchiveError for an unsafe, malformed, over-limit or mismatching
 *   archive, LayerImportError for a layer whose content is unsafe or not its
 *   diff ID. Nothing of a failed load stays in the store.
 */
export async function loadArchive(store: ImageStore, input: Readable, options: { limits?: Partial<LoadLimits>; onProgress?: (p: LoadProgress) => void } = {}): Promise<LoadedImage[]> {
  const limits = { ...DEFAULT_LOAD_LIMITS, ...options.limits };
  const progress = options.onProgress;
  // Announce the load (as a pull does) so another process's recovery keeps the layers it adds.
  const release = await store.lock(`load:${process.pid}:${crypto.randomBytes(8).toString('hex')}`);
  const added = { blobs: [] as string[], layers: [] as string[] };
  let contents: ArchiveContents | undefined;
  try {
    contents = await readArchive(store, input, limits);
    const a = contents;
    const plans = a.files.has('manifest.json') || a.links.has('manifest.json') ? await planDocker(a, limits) : planOci(a, limits);
    // Awaited: the rename out of a.tmp must end before a.tmp is removed (finally below) and before the blob is read.
    const commitBlob = async (digest: string, entry: FileEntry): Promise<void> => {
      if (store.hasBlob(digest)) return;
      const copy = path.join(a.tmp, `b-${digest.replace(':', '-')}`);
      fs.copyFileSync(entry.file, copy);
      added.blobs.push(digest);
      await store.commitBlob(digest, copy, entry.size);
    };
    const loaded: LoadedImage[] = [];
    for (const p of plans) {
      const chains = chainIds(p.layers.map((l) => l.diffId));
      for (let i = 0; i < p.layers.length; i++) {
        const l = p.layers[i];
        const exists = store.hasBlob(l.blob.digest) && store.getLayer(chains[i]) !== undefined;
        progress?.({ kind: 'blob', digest: l.blob.digest, exists });
        if (exists) continue;
        await commitBlob(l.blob.digest, l.blob.entry);
        if (await importLayer(store, l.blob.digest, l.compression, l.diffId, chains[i])) added.layers.push(chains[i]);
      }
      progress?.({ kind: 'config', digest: p.id });
      await commitBlob(p.id, p.configEntry);
      if (!store.hasBlob(p.manifest.digest)) {
        const mf = path.join(a.tmp, 'manifest');
        fs.writeFileSync(mf, p.manifest.body);
        added.blobs.push(p.manifest.digest);
        await store.commitBlob(p.manifest.digest, mf, p.manifest.body.length);
      }
      progress?.({ kind: 'manifest' });
      const [first, ...rest] = p.names;
      const r = first ? parseReference(first) : undefined;
      store.commitImage({
        id: p.id,
        configJson: p.configJson,
        manifestDigest: p.manifest.digest,
        repository: r ? repositoryName(r) : '',
        tag: r?.tag,
        chainIds: chains,
        blobs: [...new Set([p.manifest.digest, p.id, ...p.layers.map((l) => l.blob.digest)])],
      });
      for (const n of rest) store.addTag(p.id, n);
      loaded.push({ id: p.id, names: p.names });
    }
    return loaded;
  } catch (err) {
    store.removeUnused(added.layers, added.blobs);
    throw err;
  } finally {
    if (contents) fs.rmSync(contents.tmp, { recursive: true, force: true });
    release();
  }
}
