import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../../common/atomic-file';
import type { ContainerResources, MountPropagation } from './spec';

/**
 * A container's life, as CRI ContainerState names it:
 *
 *   (CreateContainer) ──► CONTAINER_CREATED ──StartContainer──► CONTAINER_RUNNING
 *          │                     │                                   │
 *          │                     └──────── exit / Stop ──────────────┤
 *          ▼                                                         ▼
 *   (failed create: nothing kept)                             CONTAINER_EXITED ──Remove──► (gone)
 *
 * CONTAINER_UNKNOWN is reported when peapod could not tell (the runtime lost the container
 * and no exit file exists).
 */
export type ContainerStateName = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

/** A mount as made: host path resolved, defaults filled in. */
export interface RecordedMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation: MountPropagation;
}

/** The crash-safe record of one container, rewritten atomically on every change. */
export interface ContainerRecord {
  /** Record format version. */
  version: 1;
  id: string;
  sandboxId: string;
  metadata: { name: string; attempt: number };
  state: ContainerStateName;
  /** Nanoseconds since the epoch, decimal strings ('0' = not yet). */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  /** Completed, Error, OOMKilled, or '' while not exited. */
  reason: string;
  message: string;
  /** The image as its creator named it. */
  image: { name: string; annotations: Record<string, string>; userSpecified: string };
  /** The image's ID (`sha256:…`). */
  imageId: string;
  /** The image reference reported as image_ref (repo digest when known, else ID). */
  imageRef: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: RecordedMount[];
  /** Absolute log file, '' when the creator asked for none (conmon then logs to the bundle). */
  logPath: string;
  /** The runtime handler name. */
  runtimeHandler: string;
  /** Signal StopContainer sends first (e.g. SIGTERM). */
  stopSignal: string;
  /** Host pid of the init process while created/running. */
  pid: number;
  /** OCI bundle directory (runroot). */
  bundle: string;
  /** Overlay mount point, upper and work dirs. */
  rootfs: string;
  upperDir: string;
  workDir: string;
  /** Conmon's persist directory (exit, oom files). */
  persistDir: string;
  /** linux.cgroupsPath of the spec. */
  cgroupsPath: string;
  /** The resources last applied (at creation or by an update); null when none were given. */
  resources: ContainerResources | null;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** The process user (uid, gid, additional gids) as resolved at creation. */
  user?: { uid: number; gid: number; additionalGids: number[] };
  /** True from the first write until conmon reported the container created: a record still true at start-up is a crashed creation, rolled back. */
  creating?: boolean;
}

/**
 * Container records on disk: `<dir>/<id>/record.json`, written with
 * writeFileAtomic so that a SIGKILL leaves either the old or the new record.
 */
export class ContainerRecordStore {
  /** @param dir directory holding one subdirectory per container */
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** The per-container directory (persistent: upper/work dirs, persist dir, record). */
  containerDir(id: string): string {
    return path.join(this.dir, id);
  }

  /** Writes (replaces) a record. */
  save(rec: ContainerRecord): void {
    fs.mkdirSync(this.containerDir(rec.id), { recursive: true });
    writeFileAtomic(path.join(this.containerDir(rec.id), 'record.json'), JSON.stringify(rec, null, 1));
  }

  /** Removes a container's directory and record. */
  delete(id: string): void {
    fs.rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  /** Reads every record; a directory without a readable record is skipped (and returned in `orphans`). */
  loadAll(): { records: ContainerRecord[]; orphans: string[] } {
    const records: ContainerRecord[] = [];
    const orphans: string[] = [];
    for (const id of fs.readdirSync(this.dir)) {
      const d = this.containerDir(id);
      removeAtomicLeftovers(d);
      try {
        const rec = JSON.parse(fs.readFileSync(path.join(d, 'record.json'), 'utf8')) as ContainerRecord;
        if (rec.version === 1 && rec.id === id) records.push(rec);
        else orphans.push(id);
      } catch {
        orphans.push(id);
      }
    }
    return { records, orphans };
  }
}
