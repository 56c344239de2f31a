/**
 * The image store under `<root>/storage/`, shared by peapod-cri and the CLI
 * (several processes at once):
 *
 *   storage/images.db          SQLite (WAL): images, names, layers, blobs, locks
 *   storage/blobs/<alg>/<hex>  content store: manifests, configs, compressed layers
 *   storage/overlay/<chain>/diff  unpacked layer, keyed by chain ID hex
 *   storage/overlay/l/<LINK>   short symlink -> ../<chain>/diff (overlay lowerdir)
 *   storage/tmp/<pid>-<rand>/  work in progress of one process
 *
 * Files reach their final place by rename from tmp/ only when complete and
 * verified; the database row is written just before the rename, so every
 * file in place has a row. At open, tmp dirs of dead processes and files
 * without a row are removed; when no other process is pulling, rows of
 * layers and blobs that no image uses are removed too (what a crash in the
 * middle of a pull left).
 *
 * Nothing here walks or deletes a tree on the event loop: removed layers
 * and blobs are renamed into this process's tmp dir (one rename each) and
 * deleted in the background (`settled()` waits for that); disk usage is
 * walked asynchronously and cached. Reads (`get`, `list`, `resolve`) are
 * one prepared query per image or per list, with parsed configs cached by
 * image ID.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { isHexId, parseReference, formatReference, repositoryName } from '../reference';
import { ConfigCache } from './config-cache';
import { diskUsage, DiskUsage } from './disk-usage';
import { ensurePrivateDir, ensurePrivateFile } from '../../common/host/private-paths';
import { LOCKS_TABLE_SQL, ProcessLocks, upgradeLocksTable } from '../../common/process-lock';

/** The image config JSON (OCI image-spec `config.md`), the parts peapod reads. */
export interface OciImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown>;
    Volumes?: Record<string, unknown>;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
}

/** One image as stored. */
export interface ImageRecord {
  /** `sha256:<hex>` of the config. */
  id: string;
  /** Normalized `domain/path:tag`. */
  repoTags: string[];
  /** `domain/path@sha256:<manifest hex>`. */
  repoDigests: string[];
  /** Bytes: sum of the unpacked layer sizes plus the config. */
  size: number;
  config: OciImageConfig;
  /** Chain IDs bottom first. */
  chainIds: string[];
  /** Not removed by the kubelet's image GC. */
  pinned: boolean;
  /** Digest of the manifest the image was pulled by. */
  manifestDigest: string;
  /** Milliseconds since the epoch. */
  created: number;
}

/** A stored layer. */
export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** The short link name under overlay/l/. */
  link: string;
  /** Bytes of regular files. */
  size: number;
}

/** What commitImage needs. */
export interface NewImage {
  id: string;
  configJson: string;
  manifestDigest: string;
  /** Repository name (`domain/path`) the image was pulled from; empty for an image without a name (a loaded archive). */
  repository: string;
  tag?: string;
  chainIds: string[];
  /** Every blob the image uses (manifests, config, layers). */
  blobs: string[];
}

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const LINK_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function newLinkName(): string {
  const bytes = crypto.randomBytes(26);
  let s = '';
  for (const b of bytes) s += LINK_ALPHABET[b & 31];
  return s;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, config TEXT NOT NULL, manifest_digest TEXT NOT NULL,
  size INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image_tags (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS image_digests (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS image_layers (image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, idx INTEGER NOT NULL, chain_id TEXT NOT NULL, PRIMARY KEY (image_id, idx));
CREATE TABLE IF NOT EXISTS image_blobs (image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, digest TEXT NOT NULL, PRIMARY KEY (image_id, digest));
CREATE TABLE IF NOT EXISTS layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, link TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE INDEX IF NOT EXISTS image_blobs_digest ON image_blobs(digest);
CREATE INDEX IF NOT EXISTS image_tags_image ON image_tags(image_id, name);
CREATE INDEX IF NOT EXISTS image_digests_image ON image_digests(image_id, name);
`;

/**
 * Columns of an image row with its tags, digests and chain IDs aggregated
 * (one query per image or list). The aggregates carry no ORDER BY (three
 * ordered aggregates cost six times as much as the whole query without);
 * the names are sorted and the chain IDs put in layer order in JS.
 */
const IMAGE_SELECT = `SELECT i.id, i.manifest_digest, i.size, i.pinned, i.created,
  (SELECT json_group_array(name) FROM image_tags WHERE image_id = i.id) AS tags,
  (SELECT json_group_array(name) FROM image_digests WHERE image_id = i.id) AS digests,
  (SELECT json_group_array(json_array(idx, chain_id)) FROM image_layers WHERE image_id = i.id) AS chains
  FROM images i`;

interface ImageRow {
  id: string;
  manifest_digest: string;
  size: number;
  pinned: number;
  created: number;
  tags: string;
  digests: string;
  chains: string;
}

/** Milliseconds a computed disk usage is served before it is walked again (unless this process changed the store). */
const USAGE_TTL_MS = 10_000;

/** Makes a directory's entries (a rename into it) durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Puts the database in WAL mode (persistent: later opens find it set).
 * Switching needs the database to itself, and SQLite answers SQLITE_BUSY at
 * once, without its busy handler, while another process holds it (two
 * processes opening a new store together): so retry for up to 30 s.
 */
function setWal(db: Database.Database): void {
  const deadline = Date.now() + 30_000;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    }
  }
}

/** Images, layers and blobs on disk, with their metadata in SQLite. Safe to use from several processes. */
export class ImageStore {
  readonly db: Database.Database;
  /** Cross-process locks held by pid and start time (src/common/process-lock.ts). */
  private readonly locks: ProcessLocks;
  /** This process's work directory under tmp/. */
  private tmpDir: string | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly configs = new ConfigCache();
  private readonly pending = new Set<Promise<void>>();
  private trashCount = 0;
  private usageCache: { at: number; value: DiskUsage } | undefined;
  private usageDirty = true;
  private usageWalk: Promise<DiskUsage> | undefined;

  private constructor(readonly root: string) {
    // Owner only, also where they existed with other modes: the unpacked
    // layers hold the images' setuid programs and device nodes, and a host
    // user who could reach them could run or open them (Moby
    // CVE-2021-41091, containerd CVE-2021-41103). The layers' own diff/
    // directories keep the image's modes below these.
    for (const d of ['', 'blobs', 'blobs/sha256', 'blobs/sha512', 'overlay', 'overlay/l', 'tmp']) ensurePrivateDir(path.join(root, d));
    const dbFile = path.join(root, 'images.db');
    ensurePrivateFile(dbFile, [`${dbFile}-wal`, `${dbFile}-shm`]);
    this.db = new Database(dbFile, { timeout: 30_000 });
    setWal(this.db);
    this.db.pragma('busy_timeout = 30000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.db.exec(LOCKS_TABLE_SQL);
    upgradeLocksTable(this.db);
    this.locks = new ProcessLocks(this.db);
  }

  /**
   * Opens (creating when absent) the store at `storageRoot` (peapod uses
   * `<config.root>/storage`) and cleans what crashed pulls left (the
   * deletions run in the background: `settled()`).
   */
  static open(storageRoot: string): ImageStore {
    const store = new ImageStore(storageRoot);
    store.recover();
    return store;
  }

  /** Closes the database and removes this process's tmp dir. */
  close(): void {
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.db.close();
  }

  /** Resolves once every background deletion started so far is done. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** A prepared statement, compiled once per store. */
  private prep(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private background(p: Promise<unknown>): void {
    const done: Promise<void> = p.then(
      () => undefined,
      () => undefined, // best effort: what is left is removed at the next open
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /**
   * Takes `p` out of its place at once (one rename into tmp/, under a name
   * of this process) and deletes it in the background; a crash before the
   * deletion ends leaves a tmp entry of a dead process, which the next open
   * removes.
   */
  private discard(p: string): void {
    const t = path.join(this.root, 'tmp', `${process.pid}-trash-${crypto.randomBytes(4).toString('hex')}-${this.trashCount++}`);
    try {
      fs.renameSync(p, t);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.background(fsp.rm(t, { recursive: true, force: true }));
  }

  // ------------------------------------------------------------ paths

  /** Path of a blob in the content store. */
  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    return path.join(this.root, 'blobs', alg, hex);
  }

  /** Directory holding one layer (`diff/` inside). */
  layerDir(chainId: string): string {
    return path.join(this.root, 'overlay', hexOf(chainId));
  }

  /** The directory the short links live in: overlay mounts run with this cwd. */
  get linkDir(): string {
    return path.join(this.root, 'overlay');
  }

  private processTmp(): string {
    if (!this.tmpDir) {
      this.tmpDir = path.join(this.root, 'tmp', `${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
      fs.mkdirSync(this.tmpDir, { recursive: true });
    }
    return this.tmpDir;
  }

  /** A fresh temp directory of this process (removed at close, or at the next open after a crash). */
  tempDir(): string {
    const d = path.join(this.processTmp(), crypto.randomBytes(6).toString('hex'));
    fs.mkdirSync(d);
    return d;
  }

  /** Removes a temp directory of this process in the background. */
  removeTemp(dir: string): void {
    this.background(fsp.rm(dir, { recursive: true, force: true }));
  }

  // ------------------------------------------------------------ recovery

  private recover(): void {
    const tmp = path.join(this.root, 'tmp');
    for (const n of fs.readdirSync(tmp)) {
      const pid = Number(n.split('-')[0]);
      if (!Number.isInteger(pid) || !pidAlive(pid)) this.background(fsp.rm(path.join(tmp, n), { recursive: true, force: true }));
    }
    this.db.prepare('DELETE FROM locks WHERE pid = ?').run(process.pid);
    if (this.locks.removeDead() === 0) {
      // Layers and blobs no image uses: what a pull left when it crashed (its
      // files go with the pass below). Skipped while another process pulls:
      // its layers are not in an image yet. (A pull that loses a layer this
      // way notices at commit and pulls again.)
      this.db.prepare('DELETE FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)').run();
      this.db.prepare('DELETE FROM blobs WHERE digest NOT IN (SELECT digest FROM image_blobs)').run();
    }
    // Files without a row: rows are written before files, so these are leftovers.
    // The directories are listed BEFORE the rows are read: another process
    // may commit a layer or blob meanwhile (row, then rename), and a file
    // listed first had its row written before the listing, so the later
    // read sees it. Read the other way round, a file committed between the
    // read and the listing would look row-less and be deleted under its
    // image.
    const overlay = path.join(this.root, 'overlay');
    const layerDirs = fs.readdirSync(overlay).filter((n) => n !== 'l');
    const linkNames = fs.readdirSync(path.join(overlay, 'l'));
    const blobFiles = ['sha256', 'sha512'].flatMap((alg) => fs.readdirSync(path.join(this.root, 'blobs', alg)).map((n) => ({ alg, n })));
    const layers = new Set((this.db.prepare('SELECT chain_id FROM layers').all() as { chain_id: string }[]).map((r) => hexOf(r.chain_id)));
    const links = new Set((this.db.prepare('SELECT link FROM layers').all() as { link: string }[]).map((r) => r.link));
    const blobs = new Set((this.db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]).map((r) => r.digest));
    for (const n of layerDirs) if (!layers.has(n)) this.discard(path.join(overlay, n));
    for (const n of linkNames) if (!links.has(n)) this.background(fsp.rm(path.join(overlay, 'l', n), { force: true }));
    for (const { alg, n } of blobFiles) if (!blobs.has(`${alg}:${n}`)) this.discard(path.join(this.root, 'blobs', alg, n));
  }

  // ------------------------------------------------------------ locks

  /**
   * Takes the cross-process lock `key` (a row of the locks table), waiting
   * while a live process holds it (this one included: the in-process single
   * flight serializes); a holder that died is replaced, recognised by pid and
   * start time so a reused pid does not keep a dead lock alive.
   * @returns a function that releases the lock.
   */
  lock(key: string, pollMs = 50): Promise<() => void> {
    return this.locks.acquire(key, pollMs);
  }

  // ------------------------------------------------------------ blobs and layers

  /** True when the content store has `digest` (row and file). */
  hasBlob(digest: string): boolean {
    return this.prep('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined && fs.existsSync(this.blobPath(digest));
  }

  /**
   * Records a verified, durable temp file and moves it into the content
   * store. The row comes first, so a file in the store always has a row and
   * recovery can delete files without one; a row without its file (a crash
   * between the two) reads as absent (hasBlob checks the file). The rename
   * is made durable before this resolves.
   */
  async commitBlob(digest: string, tmpFile: string, size: number): Promise<void> {
    this.prep('INSERT OR IGNORE INTO blobs (digest, size, created) VALUES (?, ?, ?)').run(digest, size, Date.now());
    const target = this.blobPath(digest);
    await fsp.rename(tmpFile, target);
    await syncDir(path.dirname(target));
    this.usageDirty = true;
  }

  /**
   * Stores `data` (a manifest or config already read into memory and
   * verified against `digest`) as a blob: written to a temp file, fsynced,
   * committed.
   */
  async putBlob(digest: string, data: Buffer): Promise<void> {
    const dir = this.tempDir();
    const file = path.join(dir, 'blob');
    try {
      const fh = await fsp.open(file, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.commitBlob(digest, file, data.length);
    } finally {
      this.removeTemp(dir);
    }
  }

  /** The stored layer of `chainId`, if any. */
  getLayer(chainId: string): LayerRecord | undefined {
    const r = this.prep('SELECT chain_id, diff_id, link, size FROM layers WHERE chain_id = ?').get(chainId) as
      | { chain_id: string; diff_id: string; link: string; size: number }
      | undefined;
    if (!r || !fs.existsSync(path.join(this.layerDir(chainId), 'diff'))) return undefined;
    return { chainId: r.chain_id, diffId: r.diff_id, link: r.link, size: r.size };
  }

  /**
   * Moves an unpacked, verified and durable layer (`tmpLayerDir/diff`) into
   * place, makes its short link and records it; resolves once the rename is
   * durable.
   */
  async commitLayer(chainId: string, diffId: string, tmpLayerDir: string, size: number): Promise<LayerRecord> {
    const dir = this.layerDir(chainId);
    const link = newLinkName();
    // Row first (as in commitBlob): whatever is on disk has a row.
    this.prep('INSERT OR REPLACE INTO layers (chain_id, diff_id, link, size, created) VALUES (?, ?, ?, ?, ?)').run(chainId, diffId, link, size, Date.now());
    this.discard(dir); // a leftover of a layer whose row was lost
    await fsp.writeFile(path.join(tmpLayerDir, 'link'), link);
    await fsp.symlink(`../${hexOf(chainId)}/diff`, path.join(this.linkDir, 'l', link));
    await fsp.rename(tmpLayerDir, dir);
    await Promise.all([syncDir(this.linkDir), syncDir(path.join(this.linkDir, 'l'))]);
    this.usageDirty = true;
    return { chainId, diffId, link, size };
  }

  // ------------------------------------------------------------ images

  /**
   * Records an image (or adds the tag and digest to an existing one) in one
   * transaction; a tag that named another image moves to this one.
   * @throws Error when a layer or blob it names is no longer stored (a
   *   concurrent removal): the caller pulls again.
   */
  commitImage(img: NewImage): ImageRecord {
    const tx = this.db.transaction(() => {
      for (const c of img.chainIds) if (!this.prep('SELECT 1 FROM layers WHERE chain_id = ?').get(c)) throw new Error(`layer ${c} vanished during the pull`);
      for (const b of img.blobs) if (!this.prep('SELECT 1 FROM blobs WHERE digest = ?').get(b)) throw new Error(`blob ${b} vanished during the pull`);
      let size = Buffer.byteLength(img.configJson);
      for (const c of img.chainIds) size += (this.prep('SELECT size FROM layers WHERE chain_id = ?').get(c) as { size: number }).size;
      this.prep('INSERT INTO images (id, config, manifest_digest, size, pinned, created) VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest').run(
        img.id,
        img.configJson,
        img.manifestDigest,
        size,
        Date.now(),
      );
      const insLayer = this.prep('INSERT OR REPLACE INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
      img.chainIds.forEach((c, i) => insLayer.run(img.id, i, c));
      const insBlob = this.prep('INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?, ?)');
      for (const b of img.blobs) insBlob.run(img.id, b);
      if (img.repository && img.tag) this.prep('INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)').run(`${img.repository}:${img.tag}`, img.id);
      if (img.repository) this.prep('INSERT OR REPLACE INTO image_digests (name, image_id) VALUES (?, ?)').run(`${img.repository}@${img.manifestDigest}`, img.id);
    });
    tx.immediate();
    // A tag moved away may have left an image without names: it stays (as a
    // dangling image) until removed, like Docker and CRI-O.
    return this.get(img.id)!;
  }

  private record(r: ImageRow): ImageRecord {
    return {
      id: r.id,
      repoTags: (JSON.parse(r.tags) as string[]).sort(),
      repoDigests: (JSON.parse(r.digests) as string[]).sort(),
      size: r.size,
      config: this.configs.get(r.id, () => (this.prep('SELECT config FROM images WHERE id = ?').pluck().get(r.id) as string | undefined) ?? '{}'),
      chainIds: (JSON.parse(r.chains) as [number, string][]).sort((a, b) => a[0] - b[0]).map((c) => c[1]),
      pinned: r.pinned !== 0,
      manifestDigest: r.manifest_digest,
      created: r.created,
    };
  }

  /**
   * The image with full ID `id` (`sha256:<hex>`), if stored: one query, and
   * the config parsed once per process (the returned `config` is shared and
   * frozen).
   */
  get(id: string): ImageRecord | undefined {
    const r = this.prep(`${IMAGE_SELECT} WHERE i.id = ?`).get(id) as ImageRow | undefined;
    return r ? this.record(r) : undefined;
  }

  /** Every stored image, oldest first (one query). */
  list(): ImageRecord[] {
    return (this.prep(`${IMAGE_SELECT} ORDER BY i.created, i.id`).all() as ImageRow[]).map((r) => this.record(r));
  }

  /**
   * Finds an image by full ID (`sha256:<hex>` or `<hex>`), an unambiguous ID
   * prefix (at least 3 hex digits), a tag (normalized: `busybox` finds
   * `docker.io/library/busybox:latest`) or a repo digest (`name@sha256:…`).
   * @returns the image, or undefined when nothing (or more than one image) matches.
   */
  resolve(refOrIdOrDigest: string): ImageRecord | undefined {
    const s = refOrIdOrDigest.trim();
    if (!s) return undefined;
    if (s.startsWith('sha256:') && isHexId(s.slice(7))) return this.get(s);
    if (isHexId(s)) {
      const byId = this.get(`sha256:${s}`);
      if (byId) return byId;
    }
    const hexPrefix = s.startsWith('sha256:') ? s.slice(7) : s;
    if (/^[a-f0-9]{3,63}$/.test(hexPrefix)) {
      const rows = this.prep("SELECT id FROM images WHERE id LIKE ? || '%' LIMIT 2").all(`sha256:${hexPrefix}`) as { id: string }[];
      if (rows.length === 1) return this.get(rows[0].id);
    }
    let ref;
    try {
      ref = parseReference(s);
    } catch {
      return undefined;
    }
    const name = repositoryName(ref);
    if (ref.digest) {
      const r = this.prep('SELECT image_id FROM image_digests WHERE name = ?').get(`${name}@${ref.digest}`) as { image_id: string } | undefined;
      return r ? this.get(r.image_id) : undefined;
    }
    const r = this.prep('SELECT image_id FROM image_tags WHERE name = ?').get(formatReference(ref)) as { image_id: string } | undefined;
    if (r) return this.get(r.image_id);
    if (ref.shortName) {
      // A short name pulled through unqualified-search-registries is stored under the registry it came from.
      const suffix = `/${ref.path.replace(/^library\//, '')}:${ref.tag}`;
      const rows = this.prep('SELECT DISTINCT image_id FROM image_tags WHERE length(name) > length(?) AND substr(name, -length(?)) = ? LIMIT 2').all(suffix, suffix, suffix) as { image_id: string }[];
      if (rows.length === 1) return this.get(rows[0].image_id);
    }
    return undefined;
  }

  /**
   * The overlayfs lower directories of an image: short link names under
   * `linkDir` (`l/<LINK>`, each a symlink to a layer's diff dir), top-most
   * layer first as `lowerdir=` wants. Run the mount with cwd = linkDir so the
   * option stays short for 100+ layers.
   * @throws Error when a layer of the image is missing from the store.
   */
  layerLowerDirs(image: ImageRecord): { linkDir: string; lowers: string[] } {
    const lowers: string[] = [];
    for (const c of [...image.chainIds].reverse()) {
      const l = this.getLayer(c);
      if (!l) throw new Error(`layer ${c} of image ${image.id} is missing from the store`);
      lowers.push(`l/${l.link}`);
    }
    return { linkDir: this.linkDir, lowers };
  }

  /**
   * Gives image `id` the name `name` (normalized `domain/path:tag`); a name
   * another image had moves to this one, as in Docker and Podman.
   * @returns false when no image has that ID.
   */
  addTag(id: string, name: string): boolean {
    return this.db
      .transaction((): boolean => {
        if (!this.db.prepare('SELECT 1 FROM images WHERE id = ?').get(id)) return false;
        this.db.prepare('INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)').run(name, id);
        return true;
      })
      .immediate();
  }

  /**
   * Removes the name `name` (normalized `domain/path:tag`); the image stays,
   * untagged if it was its last name.
   * @returns false when no image had that name.
   */
  removeTag(name: string): boolean {
    return this.db.prepare('DELETE FROM image_tags WHERE name = ?').run(name).changes > 0;
  }

  /** The digests of every blob image `id` uses (manifests, config, layers), unordered. */
  imageBlobs(id: string): string[] {
    return (this.db.prepare('SELECT digest FROM image_blobs WHERE image_id = ?').all(id) as { digest: string }[]).map((r) => r.digest);
  }

  /** Marks an image pinned (kubelet GC leaves it) or not. */
  setPinned(id: string, pinned: boolean): void {
    this.prep('UPDATE images SET pinned = ? WHERE id = ?').run(pinned ? 1 : 0, id);
  }

  /** Deletes the rows of layers and blobs among the given ones that no image uses; returns what went. */
  private dropUnused(chainIds: Iterable<string>, digests: Iterable<string>): { layers: { chain_id: string; link: string }[]; blobs: string[] } {
    const layers: { chain_id: string; link: string }[] = [];
    const blobs: string[] = [];
    for (const c of new Set(chainIds)) {
      if (this.prep('SELECT 1 FROM image_layers WHERE chain_id = ?').get(c)) continue;
      const l = this.prep('SELECT chain_id, link FROM layers WHERE chain_id = ?').get(c) as { chain_id: string; link: string } | undefined;
      if (!l) continue;
      layers.push(l);
      this.prep('DELETE FROM layers WHERE chain_id = ?').run(c);
    }
    for (const b of new Set(digests)) {
      if (this.prep('SELECT 1 FROM image_blobs WHERE digest = ?').get(b)) continue;
      if (this.prep('DELETE FROM blobs WHERE digest = ?').run(b).changes > 0) blobs.push(b);
    }
    return { layers, blobs };
  }

  /** Takes the files of dropped layers and blobs away (renames now, deletes in the background). */
  private discardFiles(gone: { layers: { chain_id: string; link: string }[]; blobs: string[] }): void {
    for (const l of gone.layers) {
      this.background(fsp.rm(path.join(this.linkDir, 'l', l.link), { force: true }));
      this.discard(this.layerDir(l.chain_id));
    }
    for (const b of gone.blobs) this.discard(this.blobPath(b));
    if (gone.layers.length || gone.blobs.length) this.usageDirty = true;
  }

  /**
   * Removes an image with all its tags and digests, then the layers and blobs
   * no other image uses. Their files leave their places before this returns
   * and are deleted in the background (`settled()`).
   * @returns true when an image was removed, false when it was not stored.
   */
  remove(id: string): boolean {
    let gone: ReturnType<ImageStore['dropUnused']> = { layers: [], blobs: [] };
    let removed = false;
    const tx = this.db.transaction(() => {
      const chains = (this.prep('SELECT chain_id FROM image_layers WHERE image_id = ?').all(id) as { chain_id: string }[]).map((r) => r.chain_id);
      const blobs = (this.prep('SELECT digest FROM image_blobs WHERE image_id = ?').all(id) as { digest: string }[]).map((r) => r.digest);
      removed = this.prep('DELETE FROM images WHERE id = ?').run(id).changes > 0;
      gone = this.dropUnused(chains, blobs);
    });
    tx.immediate();
    this.configs.delete(id);
    this.discardFiles(gone);
    return removed;
  }

  /**
   * Removes the given layers and blobs when no image uses them: what a failed
   * pull added goes away with it (files as in `remove`).
   */
  removeUnused(chainIds: string[], digests: string[]): void {
    let gone: ReturnType<ImageStore['dropUnused']> = { layers: [], blobs: [] };
    this.db.transaction(() => void (gone = this.dropUnused(chainIds, digests))).immediate();
    this.discardFiles(gone);
  }

  /**
   * Bytes (allocated blocks) and inodes used under the store root. Walked
   * asynchronously and cached for 10 s, or until this process changes the
   * store; concurrent callers share one walk.
   */
  usage(): Promise<DiskUsage> {
    if (this.usageCache && !this.usageDirty && Date.now() - this.usageCache.at < USAGE_TTL_MS) return Promise.resolve(this.usageCache.value);
    this.usageWalk ??= (async () => {
      this.usageDirty = false;
      try {
        const value = await diskUsage(this.root);
        this.usageCache = { at: Date.now(), value };
        return value;
      } finally {
        this.usageWalk = undefined;
      }
    })();
    return this.usageWalk;
  }
}
