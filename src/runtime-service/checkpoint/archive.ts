/**
 * Checkpoint archives in the layout of CRI-O, Podman and the kubelet's
 * checkpoint API (checkpoint-restore/checkpointctl lib/metadata.go): an
 * uncompressed tar whose top level holds, for a container,
 *
 *   config.dump      JSON: id, name, rootfsImage, rootfsImageRef,
 *                    rootfsImageName, runtime, createdTime,
 *                    checkpointedTime, restoredTime, restored
 *   spec.dump        the container's OCI config.json, with CRI-O's
 *                    io.kubernetes.cri-o.* annotations added
 *   rootfs-diff.tar  the changed files of its root file system (rootfs-diff.ts)
 *   deleted.files    JSON array of the files it deleted (only when there are)
 *   checkpoint/      the CRIU images (`runc checkpoint --image-path`)
 *
 * and for a pod (CRI-O's pod checkpoint): `pod.dump` (the pod's metadata
 * and hostname), `pod.options` (version 1 and the map of container name to
 * the directory holding that container's files, `<id>-<name>`) and those
 * directories.
 *
 * The archive is built in a staging directory on the state disk, then
 * written to `<location>.tmp-…` (mode 0600: it holds every memory page of
 * the processes), fsynced and renamed onto `location`: a failure leaves
 * nothing at `location`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { quoteInput } from '../../common/bounded-text';
import { invalidArgument, PeapodError } from '../../common/errors';
import type { ContainerRecord } from '../container/record';
import type { OciSpec } from '../oci/types';
import { rootfsChanges, tarInto, writeRootfsDiffTar } from './rootfs-diff';

/** File names of the layout (checkpointctl's constants). */
export const CHECKPOINT_FILES = {
  configDump: 'config.dump',
  specDump: 'spec.dump',
  rootfsDiffTar: 'rootfs-diff.tar',
  deletedFiles: 'deleted.files',
  checkpointDir: 'checkpoint',
  podDump: 'pod.dump',
  podOptions: 'pod.options',
} as const;

/** Longest archive path accepted, in characters. */
export const MAX_LOCATION_LENGTH = 4096;
/** Most entries read from an archive's top level and metadata. */
const MAX_ARCHIVE_ENTRIES = 100_000;
/** Largest metadata file (config.dump, spec.dump, pod.dump, pod.options) read, in bytes. */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** config.dump: checkpointctl's ContainerConfig, as CRI-O and containerd write it. */
export interface CheckpointConfigDump {
  id: string;
  name: string;
  rootfsImage: string;
  rootfsImageRef: string;
  rootfsImageName: string;
  runtime: string;
  /** RFC 3339 times. */
  createdTime: string;
  checkpointedTime: string;
  restoredTime: string;
  restored: boolean;
}

/** The pod a container belongs to, as its annotations name it. */
export interface CheckpointPodInfo {
  id: string;
  name: string;
  namespace: string;
  uid: string;
}

/** RFC 3339 with nanoseconds of a nanosecond timestamp (decimal string). */
function rfc3339(ns: string): string {
  const n = BigInt(ns || '0');
  const iso = new Date(Number(n / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${String(n % 1_000_000_000n).padStart(9, '0')}Z`;
}

/**
 * config.dump of a container.
 * @param runtime the runtime handler's name (the default one when the pod names none)
 * @param checkpointedAt when the checkpoint was taken
 */
export function configDumpOf(rec: ContainerRecord, runtime: string, checkpointedAt: Date): CheckpointConfigDump {
  return {
    id: rec.id,
    name: rec.metadata.name,
    rootfsImage: rec.image.userSpecified || rec.image.name,
    rootfsImageRef: rec.imageId,
    rootfsImageName: rec.image.name,
    runtime,
    createdTime: rfc3339(rec.createdAt),
    checkpointedTime: checkpointedAt.toISOString(),
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  };
}

/**
 * The io.kubernetes.cri-o.* annotations CRI-O puts on a container's
 * config.json and reads back from spec.dump at a restore (its
 * internal/annotations): IDs and names of the container and pod, the image,
 * the log path, the CRI labels, annotations and metadata as JSON, the stdio
 * flags and the creation time.
 */
export function criOAnnotations(rec: ContainerRecord, pod: CheckpointPodInfo): Record<string, string> {
  return {
    'io.kubernetes.cri-o.ContainerID': rec.id,
    'io.kubernetes.cri-o.ContainerName': rec.metadata.name,
    'io.kubernetes.cri-o.ContainerType': 'container',
    'io.kubernetes.cri-o.Created': rfc3339(rec.createdAt),
    'io.kubernetes.cri-o.SandboxID': pod.id,
    'io.kubernetes.cri-o.SandboxName': pod.name,
    'io.kubernetes.cri-o.Name': pod.name,
    'io.kubernetes.cri-o.Namespace': pod.namespace,
    'io.kubernetes.cri-o.Image': rec.image.userSpecified || rec.image.name,
    'io.kubernetes.cri-o.ImageName': rec.image.name,
    'io.kubernetes.cri-o.ImageRef': rec.imageRef,
    'io.kubernetes.cri-o.LogPath': rec.logPath,
    'io.kubernetes.cri-o.Labels': JSON.stringify(rec.labels),
    'io.kubernetes.cri-o.Annotations': JSON.stringify(rec.annotations),
    'io.kubernetes.cri-o.Metadata': JSON.stringify(rec.metadata),
    'io.kubernetes.cri-o.TTY': String(rec.tty),
    'io.kubernetes.cri-o.Stdin': String(rec.stdin),
    'io.kubernetes.cri-o.StdinOnce': String(rec.stdinOnce),
  };
}

/**
 * Checks an archive path: absolute, at most 4096 characters, no NUL, in an
 * existing directory, and not a directory itself.
 * @param field the request field, for the error
 * @throws InvalidArgumentError naming `field`.
 */
export function checkArchiveLocation(location: string, field: string): string {
  if (!location) throw invalidArgument('the archive path is required', { field });
  if (location.length > MAX_LOCATION_LENGTH) throw invalidArgument(`the archive path is longer than ${MAX_LOCATION_LENGTH} characters`, { field });
  if (location.includes('\0')) throw invalidArgument('the archive path contains a NUL byte', { field });
  if (!path.isAbsolute(location)) throw invalidArgument(`the archive path ${quoteInput(location)} is not absolute`, { field });
  const dir = path.dirname(location);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw invalidArgument(`the archive's directory ${quoteInput(dir)} does not exist`, { field });
  if (fs.existsSync(location) && fs.statSync(location).isDirectory()) throw invalidArgument(`the archive path ${quoteInput(location)} is a directory`, { field });
  return location;
}

/** What goes into one container's part of an archive. */
export interface ContainerCheckpointParts {
  config: CheckpointConfigDump;
  spec: OciSpec;
  /** The overlay upper dir and lower dirs (top first) of its rootfs. */
  upperDir: string;
  lowerDirs: string[];
  /** A directory of CRIU images to carry as checkpoint/ (absent: none, e.g. in tests). */
  criuImagesDir?: string;
}

/**
 * Fills `dir` (empty, on the state disk) with one container's part of an
 * archive: config.dump, spec.dump, rootfs-diff.tar, deleted.files when
 * files were deleted, and checkpoint/ with the CRIU images (moved, not
 * copied, when given).
 * @returns the deleted files found.
 */
export async function stageContainerCheckpoint(dir: string, parts: ContainerCheckpointParts): Promise<string[]> {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.promises.writeFile(path.join(dir, CHECKPOINT_FILES.configDump), JSON.stringify(parts.config, null, 2), { mode: 0o600 });
  await fs.promises.writeFile(path.join(dir, CHECKPOINT_FILES.specDump), JSON.stringify(parts.spec, null, 2), { mode: 0o600 });
  const changes = await rootfsChanges(parts.upperDir, parts.lowerDirs);
  await writeRootfsDiffTar(parts.upperDir, changes, fs.createWriteStream(path.join(dir, CHECKPOINT_FILES.rootfsDiffTar), { mode: 0o600 }));
  if (changes.deleted.length > 0) await fs.promises.writeFile(path.join(dir, CHECKPOINT_FILES.deletedFiles), JSON.stringify(changes.deleted), { mode: 0o600 });
  if (parts.criuImagesDir) await fs.promises.rename(parts.criuImagesDir, path.join(dir, CHECKPOINT_FILES.checkpointDir));
  return changes.deleted;
}

/** Adds a directory tree (regular files and directories only) to `pack` under `prefix`. */
async function packTree(pack: tar.Pack, root: string, prefix: string): Promise<void> {
  const names = (await fs.promises.readdir(root)).sort();
  for (const name of names) {
    const file = path.join(root, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await fs.promises.lstat(file);
    if (st.isDirectory()) {
      await new Promise<void>((resolve, reject) => pack.entry({ name: rel, type: 'directory', mode: 0o700, mtime: st.mtime }, (err) => (err ? reject(err) : resolve())));
      await packTree(pack, file, rel);
    } else if (st.isFile()) {
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: rel, size: st.size, mode: 0o600, mtime: st.mtime }, (err) => (err ? reject(err) : resolve()));
        const input = fs.createReadStream(file);
        input.on('error', (e) => {
          entry.destroy(e);
          reject(e);
        });
        input.pipe(entry);
      });
    }
  }
}

/**
 * Writes the staged tree `dir` as the archive `location`, atomically (see
 * the module doc): `<location>.tmp-<random>` written, fsynced, renamed.
 * @throws the fs error; nothing is left at `location` or beside it.
 */
export async function writeArchive(dir: string, location: string): Promise<void> {
  const tmp = `${location}.tmp-${randomBytes(6).toString('hex')}`;
  const out = fs.createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
  const { pack, done } = tarInto(out);
  try {
    await packTree(pack, dir, '');
    pack.finalize();
    await done;
    const fh = await fs.promises.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, location);
  } catch (err) {
    pack.destroy();
    // The stream opens its file asynchronously: wait until it is closed, so the file cannot appear after the rm.
    const closed = out.closed ? Promise.resolve() : new Promise<void>((resolve) => out.once('close', () => resolve()));
    out.destroy();
    await closed;
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

/** An archive that is not a checkpoint archive of the expected kind, or is damaged. */
export class CheckpointArchiveError extends PeapodError {
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'CheckpointArchiveError';
  }
}

/** The metadata of an archive: its top-level names and the JSON metadata files it has. */
export interface ArchiveMetadata {
  /** Top-level names (files and directories, without a trailing slash). */
  names: string[];
  /** Parsed config.dump, spec.dump, pod.dump, pod.options by file name, where present (also under a container directory: `<dir>/config.dump`). */
  files: Record<string, unknown>;
}

/**
 * Reads the metadata of a checkpoint archive without unpacking it: walks
 * its entries, keeping the top-level names and parsing the metadata files
 * (at most 4 MiB each); CRIU images and rootfs-diff.tar are skipped.
 * @param field the request field, for errors
 * @throws CheckpointArchiveError (INVALID_ARGUMENT, naming `field`) for a
 *   missing or unreadable file, a tar that does not parse, a path with `..`
 *   or an absolute one, more than 100,000 entries, or metadata that is not
 *   JSON.
 */
export async function readArchiveMetadata(file: string, field: string): Promise<ArchiveMetadata> {
  let input: fs.ReadStream;
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) throw new CheckpointArchiveError(`${quoteInput(file)} is not a file`, { field });
    input = fs.createReadStream(file);
  } catch (err) {
    if (err instanceof CheckpointArchiveError) throw err;
    throw new CheckpointArchiveError(`cannot read ${quoteInput(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field, cause: err });
  }
  const names = new Set<string>();
  const files: Record<string, unknown> = {};
  const metadataNames = new Set<string>([CHECKPOINT_FILES.configDump, CHECKPOINT_FILES.specDump, CHECKPOINT_FILES.podDump, CHECKPOINT_FILES.podOptions]);
  const extract = tar.extract();
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string, cause?: unknown): void => {
      input.destroy();
      extract.destroy();
      reject(new CheckpointArchiveError(`${quoteInput(file)} is not a checkpoint archive: ${why}`, { field, cause }));
    };
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
      if (++count > MAX_ARCHIVE_ENTRIES) return fail(`more than ${MAX_ARCHIVE_ENTRIES} entries`);
      if (name.startsWith('/') || name.split('/').includes('..')) return fail(`entry ${quoteInput(name)} leaves the archive`);
      if (name) names.add(name.split('/')[0]);
      const base = path.posix.basename(name);
      const depth = name.split('/').length;
      if (header.type === 'file' && metadataNames.has(base) && depth <= 2) {
        if ((header.size ?? 0) > MAX_METADATA_BYTES) return fail(`${name} is larger than ${MAX_METADATA_BYTES} bytes`);
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          try {
            files[name] = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch (err) {
            return fail(`${name} is not JSON`, err);
          }
          next();
        });
        return;
      }
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', () => resolve());
    extract.on('error', (err: Error) => fail(err.message, err));
    input.on('error', (err) => fail(err.message, err));
    input.pipe(extract);
  });
  return { names: [...names].sort(), files };
}
