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
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { isHexId, parseReference, formatReference, repositoryName } from '../reference';

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
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, pid INTEGER NOT NULL, acquired INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE INDEX IF NOT EXISTS image_blobs_digest ON image_blobs(digest);
`;

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
  /** This process's work directory under tmp/. */
  private tmpDir: string | undefined;

  private constructor(readonly root: string) {
    for (const d of ['blobs/sha256', 'blobs/sha512', 'overlay/l', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o700 });
    this.db = new Database(path.join(root, 'images.db'), { timeout: 30_000 });
    setWal(this.db);
    this.db.pragma('busy_timeout = 30000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  /**
   * Opens (creating when absent) the store at `storageRoot` (peapod uses
   * `<config.root>/storage`) and cleans what crashed pulls left.
   */
  static open(storageRoot: string): ImageStore {
    const store = new ImageStore(storageRoot);
    store.recover();
    return store;
  }

  /** Closes the database. */
  close(): void {
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.db.close();
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

  /** A fresh temp directory of this process (removed at close, or at the next open after a crash). */
  tempDir(): string {
    if (!this.tmpDir) {
      this.tmpDir = path.join(this.root, 'tmp', `${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
      fs.mkdirSync(this.tmpDir, { recursive: true });
    }
    const d = path.join(this.tmpDir, crypto.randomBytes(6).toString('hex'));
    fs.mkdirSync(d);
    return d;
  }

  // ------------------------------------------------------------ recovery

  private recover(): void {
    const tmp = path.join(this.root, 'tmp');
    for (const n of fs.readdirSync(tmp)) {
      const pid = Number(n.split('-')[0]);
      if (!Number.isInteger(pid) || !pidAlive(pid)) fs.rmSync(path.join(tmp, n), { recursive: true, force: true });
    }
    this.db.prepare('DELETE FROM locks WHERE pid = ?').run(process.pid);
    const live = (this.db.prepare('SELECT pid FROM locks').all() as { pid: number }[]).filter((r) => pidAlive(r.pid));
    const dead = (this.db.prepare('SELECT pid FROM locks').all() as { pid: number }[]).filter((r) => !pidAlive(r.pid));
    for (const r of dead) this.db.prepare('DELETE FROM locks WHERE pid = ?').run(r.pid);
    if (live.length === 0) {
      // Layers and blobs no image uses: what a pull left when it crashed (its
      // files go with the pass below). Skipped while another process pulls:
      // its layers are not in an image yet. (A pull that loses a layer this
      // way notices at commit and pulls again.)
      this.db.prepare('DELETE FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)').run();
      this.db.prepare('DELETE FROM blobs WHERE digest NOT IN (SELECT digest FROM image_blobs)').run();
    }
    // Files without a row: rows are written before files, so these are leftovers.
    const layers = new Set((this.db.prepare('SELECT chain_id FROM layers').all() as { chain_id: string }[]).map((r) => hexOf(r.chain_id)));
    const links = new Set((this.db.prepare('SELECT link FROM layers').all() as { link: string }[]).map((r) => r.link));
    const overlay = path.join(this.root, 'overlay');
    for (const n of fs.readdirSync(overlay)) if (n !== 'l' && !layers.has(n)) fs.rmSync(path.join(overlay, n), { recursive: true, force: true });
    for (const n of fs.readdirSync(path.join(overlay, 'l'))) if (!links.has(n)) fs.rmSync(path.join(overlay, 'l', n), { force: true });
    const blobs = new Set((this.db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]).map((r) => r.digest));
    for (const alg of ['sha256', 'sha512']) {
      for (const n of fs.readdirSync(path.join(this.root, 'blobs', alg))) if (!blobs.has(`${alg}:${n}`)) fs.rmSync(path.join(this.root, 'blobs', alg, n), { force: true });
    }
  }

  // ------------------------------------------------------------ locks

  /**
   * Takes the cross-process lock `key` (a row of the locks table), waiting
   * while a live process holds it; a holder that died is replaced.
   * @returns a function that releases the lock.
   */
  async lock(key: string, pollMs = 50): Promise<() => void> {
    const take = this.db.transaction((): boolean => {
      const row = this.db.prepare('SELECT pid FROM locks WHERE key = ?').get(key) as { pid: number } | undefined;
      if (row && pidAlive(row.pid) && row.pid !== process.pid) return false;
      if (row && row.pid === process.pid) return false; // same process: the in-process single flight serializes
      this.db.prepare('INSERT OR REPLACE INTO locks (key, pid, acquired) VALUES (?, ?, ?)').run(key, process.pid, Date.now());
      return true;
    });
    while (!take.immediate()) await new Promise((r) => setTimeout(r, pollMs));
    return () => {
      this.db.prepare('DELETE FROM locks WHERE key = ? AND pid = ?').run(key, process.pid);
    };
  }

  // ------------------------------------------------------------ blobs and layers

  /** True when the content store has `digest` (row and file). */
  hasBlob(digest: string): boolean {
    return this.db.prepare('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined && fs.existsSync(this.blobPath(digest));
  }

  /**
   * Records a verified temp file and moves it into the content store. The
   * row comes first, so a file in the store always has a row and recovery
   * can delete files without one; a row without its file (a crash between
   * the two) reads as absent (hasBlob checks the file).
   */
  commitBlob(digest: string, tmpFile: string, size: number): void {
    this.db.prepare('INSERT OR IGNORE INTO blobs (digest, size, created) VALUES (?, ?, ?)').run(digest, size, Date.now());
    fs.renameSync(tmpFile, this.blobPath(digest));
  }

  /** The stored layer of `chainId`, if any. */
  getLayer(chainId: string): LayerRecord | undefined {
    const r = this.db.prepare('SELECT chain_id, diff_id, link, size FROM layers WHERE chain_id = ?').get(chainId) as
      | { chain_id: string; diff_id: string; link: string; size: number }
      | undefined;
    if (!r || !fs.existsSync(path.join(this.layerDir(chainId), 'diff'))) return undefined;
    return { chainId: r.chain_id, diffId: r.diff_id, link: r.link, size: r.size };
  }

  /**
   * Moves an unpacked, verified layer (`tmpLayerDir/diff`) into place, makes
   * its short link and records it.
   */
  commitLayer(chainId: string, diffId: string, tmpLayerDir: string, size: number): LayerRecord {
    const dir = this.layerDir(chainId);
    const link = newLinkName();
    // Row first (as in commitBlob): whatever is on disk has a row.
    this.db.prepare('INSERT OR REPLACE INTO layers (chain_id, diff_id, link, size, created) VALUES (?, ?, ?, ?, ?)').run(chainId, diffId, link, size, Date.now());
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(path.join(tmpLayerDir, 'link'), link);
    fs.symlinkSync(`../${hexOf(chainId)}/diff`, path.join(this.linkDir, 'l', link));
    fs.renameSync(tmpLayerDir, dir);
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
      for (const c of img.chainIds) if (!this.db.prepare('SELECT 1 FROM layers WHERE chain_id = ?').get(c)) throw new Error(`layer ${c} vanished during the pull`);
      for (const b of img.blobs) if (!this.db.prepare('SELECT 1 FROM blobs WHERE digest = ?').get(b)) throw new Error(`blob ${b} vanished during the pull`);
      const size =
        (this.db.prepare(`SELECT COALESCE(SUM(size), 0) AS s FROM layers WHERE chain_id IN (${img.chainIds.map(() => '?').join(',') || "''"})`).get(...img.chainIds) as { s: number }).s +
        Buffer.byteLength(img.configJson);
      this.db
        .prepare('INSERT INTO images (id, config, manifest_digest, size, pinned, created) VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest')
        .run(img.id, img.configJson, img.manifestDigest, size, Date.now());
      const insLayer = this.db.prepare('INSERT OR REPLACE INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
      img.chainIds.forEach((c, i) => insLayer.run(img.id, i, c));
      const insBlob = this.db.prepare('INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?, ?)');
      for (const b of img.blobs) insBlob.run(img.id, b);
      if (img.repository && img.tag) this.db.prepare('INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)').run(`${img.repository}:${img.tag}`, img.id);
      if (img.repository) this.db.prepare('INSERT OR REPLACE INTO image_digests (name, image_id) VALUES (?, ?)').run(`${img.repository}@${img.manifestDigest}`, img.id);
    });
    tx.immediate();
    // A tag moved away may have left an image without names: it stays (as a
    // dangling image) until removed, like Docker and CRI-O.
    return this.get(img.id)!;
  }

  /** The image with full ID `id` (`sha256:<hex>`), if stored. */
  get(id: string): ImageRecord | undefined {
    const r = this.db.prepare('SELECT id, config, manifest_digest, size, pinned, created FROM images WHERE id = ?').get(id) as
      | { id: string; config: string; manifest_digest: string; size: number; pinned: number; created: number }
      | undefined;
    if (!r) return undefined;
    const tags = (this.db.prepare('SELECT name FROM image_tags WHERE image_id = ? ORDER BY name').all(id) as { name: string }[]).map((x) => x.name);
    const digests = (this.db.prepare('SELECT name FROM image_digests WHERE image_id = ? ORDER BY name').all(id) as { name: string }[]).map((x) => x.name);
    const chainIds = (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx').all(id) as { chain_id: string }[]).map((x) => x.chain_id);
    return {
      id: r.id,
      repoTags: tags,
      repoDigests: digests,
      size: r.size,
      config: JSON.parse(r.config) as OciImageConfig,
      chainIds,
      pinned: r.pinned !== 0,
      manifestDigest: r.manifest_digest,
      created: r.created,
    };
  }

  /** Every stored image, oldest first. */
  list(): ImageRecord[] {
    return (this.db.prepare('SELECT id FROM images ORDER BY created, id').all() as { id: string }[]).map((r) => this.get(r.id)!).filter(Boolean);
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
      const rows = this.db.prepare("SELECT id FROM images WHERE id LIKE ? || '%'").all(`sha256:${hexPrefix}`) as { id: string }[];
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
      const r = this.db.prepare('SELECT image_id FROM image_digests WHERE name = ?').get(`${name}@${ref.digest}`) as { image_id: string } | undefined;
      if (r) return this.get(r.image_id);
      // A digest pull names the index digest: also accept any repo digest of the same name.
      return undefined;
    }
    const r = this.db.prepare('SELECT image_id FROM image_tags WHERE name = ?').get(formatReference(ref)) as { image_id: string } | undefined;
    if (r) return this.get(r.image_id);
    if (ref.shortName) {
      // A short name pulled through unqualified-search-registries is stored under the registry it came from.
      const suffix = `/${ref.path.replace(/^library\//, '')}:${ref.tag}`;
      const rows = this.db.prepare('SELECT image_id FROM image_tags WHERE length(name) > length(?) AND substr(name, -length(?)) = ?').all(suffix, suffix, suffix) as { image_id: string }[];
      const ids = [...new Set(rows.map((x) => x.image_id))];
      if (ids.length === 1) return this.get(ids[0]);
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
    this.db.prepare('UPDATE images SET pinned = ? WHERE id = ?').run(pinned ? 1 : 0, id);
  }

  /**
   * Removes an image with all its tags and digests, then the layers and blobs
   * no other image uses.
   * @returns true when an image was removed, false when it was not stored.
   */
  remove(id: string): boolean {
    let goneLayers: { chain_id: string; link: string }[] = [];
    let goneBlobs: string[] = [];
    let removed = false;
    const tx = this.db.transaction(() => {
      const chains = (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ?').all(id) as { chain_id: string }[]).map((r) => r.chain_id);
      const blobs = (this.db.prepare('SELECT digest FROM image_blobs WHERE image_id = ?').all(id) as { digest: string }[]).map((r) => r.digest);
      removed = this.db.prepare('DELETE FROM images WHERE id = ?').run(id).changes > 0;
      goneLayers = [];
      for (const c of new Set(chains)) {
        if (this.db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ?').get(c)) continue;
        const l = this.db.prepare('SELECT chain_id, link FROM layers WHERE chain_id = ?').get(c) as { chain_id: string; link: string } | undefined;
        if (l) goneLayers.push(l);
        this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(c);
      }
      goneBlobs = [];
      for (const b of new Set(blobs)) {
        if (this.db.prepare('SELECT 1 FROM image_blobs WHERE digest = ?').get(b)) continue;
        this.db.prepare('DELETE FROM blobs WHERE digest = ?').run(b);
        goneBlobs.push(b);
      }
    });
    tx.immediate();
    for (const l of goneLayers) {
      fs.rmSync(path.join(this.linkDir, 'l', l.link), { force: true });
      fs.rmSync(this.layerDir(l.chain_id), { recursive: true, force: true });
    }
    for (const b of goneBlobs) fs.rmSync(this.blobPath(b), { force: true });
    return removed;
  }

  /**
   * Removes the given layers and blobs when no image uses them: what a failed
   * pull added goes away with it.
   */
  removeUnused(chainIds: string[], digests: string[]): void {
    const goneLayers: { chain_id: string; link: string }[] = [];
    const goneBlobs: string[] = [];
    this.db
      .transaction(() => {
        for (const c of chainIds) {
          if (this.db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ?').get(c)) continue;
          const l = this.db.prepare('SELECT chain_id, link FROM layers WHERE chain_id = ?').get(c) as { chain_id: string; link: string } | undefined;
          if (!l) continue;
          goneLayers.push(l);
          this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(c);
        }
        for (const b of digests) {
          if (this.db.prepare('SELECT 1 FROM image_blobs WHERE digest = ?').get(b)) continue;
          if (this.db.prepare('DELETE FROM blobs WHERE digest = ?').run(b).changes > 0) goneBlobs.push(b);
        }
      })
      .immediate();
    for (const l of goneLayers) {
      fs.rmSync(path.join(this.linkDir, 'l', l.link), { force: true });
      fs.rmSync(this.layerDir(l.chain_id), { recursive: true, force: true });
    }
    for (const b of goneBlobs) fs.rmSync(this.blobPath(b), { force: true });
  }

  /** Bytes and inodes used under the store root (walks the tree). */
  usage(): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 0;
    const walk = (d: string): void => {
      let names: string[];
      try {
        names = fs.readdirSync(d);
      } catch {
        return;
      }
      for (const n of names) {
        const p = path.join(d, n);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(p);
        } catch {
          continue;
        }
        inodes++;
        bytes += st.blocks * 512;
        if (st.isDirectory()) walk(p);
      }
    };
    walk(this.root);
    return { bytes, inodes };
  }
}
