/**
 * Checkpoint and restore of containers and pods with CRIU, on the domain
 * (Peapod), for both front ends: CRI's CheckpointContainer, CheckpointPod
 * and RestorePod, and the CLI's `container checkpoint` / `container restore`.
 *
 * A checkpoint: the container must be running; CRIU must pass `criu check`
 * (criu.ts; else FAILED_PRECONDITION naming what it reported, before
 * anything is touched); the container is frozen (`runc pause`), its
 * processes dumped with `runc checkpoint --leave-running` into a staging
 * directory on the state disk (`<root>/checkpoints-work/`), its root file
 * system changes read from the overlay upper dir while it is still frozen,
 * and it is thawed; then the archive is written atomically (archive.ts).
 * The container keeps running, as the kubelet's forensic checkpointing
 * (KEP-2008) and CRI-O leave it.
 *
 * A restore reads and checks the archive's metadata, then needs CRIU as a
 * checkpoint does. Recreating the processes from the CRIU images (conmon
 * `--restore`) is not built: on a node where CRIU works a restore answers
 * so, after the archive was checked.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quoteInput } from '../../common/bounded-text';
import { internal, invalidArgument, notFound, wrongState } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { ContainerEngine } from '../container/engine';
import type { ContainerRecord } from '../container/record';
import type { Peapod } from '../peapod';
import type { SandboxRecord } from '../sandbox/record';
import type { Sandboxes } from '../sandbox/service';
import {
  CHECKPOINT_FILES,
  checkArchiveLocation,
  CheckpointArchiveError,
  CheckpointPodInfo,
  configDumpOf,
  criOAnnotations,
  readArchiveMetadata,
  stageContainerCheckpoint,
  writeArchive,
} from './archive';
import { CriuCheck } from './criu';

/** Most containers checkpointed in one pod checkpoint. */
export const MAX_POD_CHECKPOINT_CONTAINERS = 256;

/** The CRIU check shared by every Checkpoints of this process (one `criu check` run). */
export const processCriuCheck = new CriuCheck();

/** What Checkpoints needs of the domain. */
export interface CheckpointDeps {
  containers: ContainerEngine;
  sandboxes: Pick<Sandboxes, 'get'>;
  /** peapod's persistent root: staging directories go to `<root>/checkpoints-work/`. */
  root: string;
  /** The runtime handler used when a pod names none (for config.dump's `runtime`). */
  defaultRuntime: string;
  log: Logger;
  /** The overlay lower dirs (absolute, top first) of a container's rootfs: where an opaque directory's hidden entries are looked up. */
  lowerDirs(rec: ContainerRecord): string[];
  /** Default: processCriuCheck. */
  criu?: CriuCheck;
}

/**
 * The Checkpoints of a composed domain: its containers, pods, root, default
 * runtime and logger, lower dirs from its image store.
 */
export function checkpointsOf(peapod: Peapod): Checkpoints {
  const store = peapod.images.store;
  return new Checkpoints({
    containers: peapod.containers,
    sandboxes: peapod.sandboxes,
    root: peapod.config.root,
    defaultRuntime: peapod.config.runtime.default_runtime,
    log: peapod.log,
    lowerDirs: (rec) => {
      const image = store.get(rec.imageId);
      if (!image) return [];
      const { linkDir, lowers } = store.layerLowerDirs(image);
      return lowers.map((l) => path.resolve(linkDir, l));
    },
  });
}

/** A finished checkpoint. */
export interface CheckpointResult {
  /** The container IDs in the archive. */
  ids: string[];
  location: string;
}

/** Checkpoint and restore (see the module doc). */
export class Checkpoints {
  private readonly criu: CriuCheck;

  constructor(private readonly deps: CheckpointDeps) {
    this.criu = deps.criu ?? processCriuCheck;
  }

  /** The pod of a container as archive annotations name it. */
  private podInfo(rec: ContainerRecord): CheckpointPodInfo {
    const pod = this.deps.sandboxes.get(rec.sandboxId);
    return { id: rec.sandboxId, name: pod?.metadata.name ?? '', namespace: pod?.metadata.namespace ?? '', uid: pod?.metadata.uid ?? '' };
  }

  private runtimeName(rec: ContainerRecord): string {
    return rec.runtimeHandler || this.deps.defaultRuntime;
  }

  private async stagingDir(): Promise<string> {
    const base = path.join(this.deps.root, 'checkpoints-work');
    await fs.promises.mkdir(base, { recursive: true, mode: 0o700 });
    return fs.promises.mkdtemp(path.join(base, `${randomBytes(3).toString('hex')}-`));
  }

  /**
   * Stages the parts of one container that need no CRIU (config.dump,
   * spec.dump, rootfs-diff.tar, deleted.files) and, when given, moves its
   * CRIU images in as checkpoint/.
   * @param dir the empty staging directory of this container
   */
  async stageContainer(rec: ContainerRecord, dir: string, criuImagesDir?: string, now = new Date()): Promise<void> {
    const spec = this.deps.containers.spec(rec.id);
    if (!spec) throw wrongState(`container ${rec.id} has no OCI bundle (the host rebooted?)`);
    spec.annotations = { ...spec.annotations, ...criOAnnotations(rec, this.podInfo(rec)) };
    await stageContainerCheckpoint(dir, {
      config: configDumpOf(rec, this.runtimeName(rec), now),
      spec,
      upperDir: rec.upperDir,
      lowerDirs: this.deps.lowerDirs(rec),
      criuImagesDir,
    });
  }

  /**
   * Writes the archive of a container from what can be produced without
   * CRIU (the layout without checkpoint/, or with the CRIU images given):
   * the last step of checkpointContainer, on its own for tests and tools.
   */
  async exportContainer(idOrPrefix: string, location: string, criuImagesDir?: string): Promise<CheckpointResult> {
    const rec = this.deps.containers.get(idOrPrefix);
    checkArchiveLocation(location, 'location');
    const staging = await this.stagingDir();
    try {
      await this.stageContainer(rec, staging, criuImagesDir);
      await writeArchive(staging, location);
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
    return { ids: [rec.id], location };
  }

  /**
   * Dumps a running container's processes with CRIU (`runc checkpoint
   * --leave-running`) into `<dir>/checkpoint`, the container frozen
   * meanwhile, and stages its other parts while it is still frozen.
   */
  private async dumpContainer(rec: ContainerRecord, dir: string): Promise<void> {
    const runtime = this.deps.containers.runtimeOf(rec);
    const images = path.join(dir, '.criu-images');
    const work = path.join(dir, '.criu-work');
    await fs.promises.mkdir(images, { mode: 0o700 });
    await fs.promises.mkdir(work, { mode: 0o700 });
    await runtime.pause(rec.id);
    try {
      await runtime.checkpoint(rec.id, { imagePath: images, workPath: work, leaveRunning: true });
      await this.stageContainer(rec, dir, images);
    } finally {
      await runtime.resume(rec.id).catch((err: Error) => this.deps.log.warn({ container: rec.id, err }, 'thawing a container after its checkpoint failed'));
      await fs.promises.rm(work, { recursive: true, force: true });
    }
  }

  /**
   * CRI CheckpointContainer / `peapod container checkpoint`: the archive of
   * a running container at `location` (see the module doc).
   * @throws InvalidArgumentError (field `location`) for a bad path;
   *   NotFoundError; WrongStateError when it is not running or CRIU cannot
   *   run here (naming what `criu check` reports); the runtime's error when
   *   the dump fails.
   */
  async checkpointContainer(idOrPrefix: string, location: string): Promise<CheckpointResult> {
    checkArchiveLocation(location, 'location');
    const rec = await this.deps.containers.running(idOrPrefix, 'checkpoint');
    await this.criu.require(`checkpointing container ${rec.id}`);
    const staging = await this.stagingDir();
    try {
      await this.dumpContainer(rec, staging);
      await writeArchive(staging, location);
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
    this.deps.log.info({ container: rec.id, location }, 'container checkpointed');
    return { ids: [rec.id], location };
  }

  /** The containers of a pod checkpoint: those asked for (all of the pod's), each running. */
  private podContainers(pod: SandboxRecord, ids: string[]): ContainerRecord[] {
    if (ids.length > MAX_POD_CHECKPOINT_CONTAINERS) throw invalidArgument(`more than ${MAX_POD_CHECKPOINT_CONTAINERS} containers`, { field: 'containerIds' });
    const all = this.deps.containers.list().filter((c) => c.sandboxId === pod.id);
    const chosen = ids.length === 0 ? all.filter((c) => c.state === 'running') : ids.map((id) => this.deps.containers.get(id));
    for (const c of chosen) {
      if (c.sandboxId !== pod.id) throw invalidArgument(`container ${c.id} is not in pod sandbox ${pod.id}`, { field: 'containerIds' });
      if (c.state !== 'running') throw wrongState(`container ${c.id} is ${c.state}: only running containers can be checkpointed`);
    }
    if (chosen.length === 0) throw wrongState(`pod sandbox ${pod.id} has no running container to checkpoint`);
    return chosen;
  }

  /**
   * Stages the pod files (pod.dump, pod.options) and each container's part
   * under `<id>-<name>/`, with `stage` filling each container's directory.
   */
  private async stagePod(pod: SandboxRecord, containers: ContainerRecord[], dir: string, stage: (rec: ContainerRecord, into: string) => Promise<void>): Promise<void> {
    const map: Record<string, string> = {};
    for (const c of containers) {
      const sub = `${c.id}-${c.metadata.name}`;
      map[c.metadata.name] = sub;
      await stage(c, path.join(dir, sub));
    }
    let hostname = pod.metadata.name;
    try {
      hostname = (await fs.promises.readFile(pod.hostnamePath, 'utf8')).trim() || hostname;
    } catch {
      /* the pod's files are gone (stopped): its name stands in */
    }
    const podDump = { metadata: { name: pod.metadata.name, uid: pod.metadata.uid, namespace: pod.metadata.namespace }, hostname };
    await fs.promises.writeFile(path.join(dir, CHECKPOINT_FILES.podDump), JSON.stringify(podDump, null, 2), { mode: 0o600 });
    await fs.promises.writeFile(path.join(dir, CHECKPOINT_FILES.podOptions), JSON.stringify({ version: 1, containers: map }, null, 2), { mode: 0o600 });
  }

  /** Writes a pod archive from what can be produced without CRIU (see exportContainer). */
  async exportPod(podIdOrPrefix: string, outputPath: string, containerIds: string[] = []): Promise<CheckpointResult> {
    const pod = this.deps.sandboxes.get(podIdOrPrefix);
    if (!pod) throw notFound(`pod sandbox ${quoteInput(podIdOrPrefix)} not found`);
    checkArchiveLocation(outputPath, 'outputPath');
    const containers = this.podContainers(pod, containerIds);
    const staging = await this.stagingDir();
    try {
      await this.stagePod(pod, containers, staging, (c, into) => this.stageContainer(c, into));
      await writeArchive(staging, outputPath);
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
    return { ids: containers.map((c) => c.id), location: outputPath };
  }

  /**
   * CRI CheckpointPod: one archive of the pod's running containers (or of
   * `containerIds`) at `outputPath`, each dumped as checkpointContainer does.
   * @throws InvalidArgumentError (fields `outputPath`, `containerIds`);
   *   NotFoundError for an unknown pod or container; WrongStateError for a
   *   container that is not running, a pod with none, or CRIU that cannot
   *   run here.
   */
  async checkpointPod(podIdOrPrefix: string, outputPath: string, containerIds: string[] = []): Promise<CheckpointResult> {
    checkArchiveLocation(outputPath, 'outputPath');
    const pod = this.deps.sandboxes.get(podIdOrPrefix);
    if (!pod) throw notFound(`pod sandbox ${quoteInput(podIdOrPrefix)} not found`);
    const containers = this.podContainers(pod, containerIds);
    await this.criu.require(`checkpointing pod sandbox ${pod.id}`);
    const staging = await this.stagingDir();
    try {
      await this.stagePod(pod, containers, staging, async (c, into) => {
        await fs.promises.mkdir(into, { mode: 0o700 });
        await this.dumpContainer(c, into);
      });
      await writeArchive(staging, outputPath);
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
    this.deps.log.info({ sandbox: pod.id, containers: containers.length, location: outputPath }, 'pod checkpointed');
    return { ids: containers.map((c) => c.id), location: outputPath };
  }

  /**
   * Checks an archive for a restore: readable, of the kind asked for (a
   * container's has config.dump and spec.dump at the top; a pod's pod.dump
   * and pod.options, and each container directory pod.options names its
   * config.dump), then that CRIU can run (see the module doc for what follows).
   * @param field the request field naming the archive
   * @throws CheckpointArchiveError (INVALID_ARGUMENT) for an archive that is
   *   not one; WrongStateError when CRIU cannot run here; InternalError once
   *   both pass (recreating processes is not built).
   */
  async restore(kind: 'container' | 'pod', archive: string, field: string): Promise<never> {
    if (!archive) throw invalidArgument('the checkpoint archive path is required', { field });
    if (!path.isAbsolute(archive)) throw invalidArgument(`the checkpoint archive path ${quoteInput(archive)} is not absolute`, { field });
    const meta = await readArchiveMetadata(archive, field);
    const need = (name: string): void => {
      if (!(name in meta.files)) throw new CheckpointArchiveError(`${quoteInput(archive)} is not a ${kind} checkpoint archive: it has no ${quoteInput(name)}`, { field });
    };
    if (kind === 'container') {
      need(CHECKPOINT_FILES.configDump);
      need(CHECKPOINT_FILES.specDump);
    } else {
      need(CHECKPOINT_FILES.podDump);
      need(CHECKPOINT_FILES.podOptions);
      const options = meta.files[CHECKPOINT_FILES.podOptions] as { containers?: Record<string, string> };
      for (const sub of Object.values(options.containers ?? {})) need(`${sub}/${CHECKPOINT_FILES.configDump}`);
    }
    await this.criu.require(`restoring ${archive}`);
    throw internal(`restoring processes from CRIU images is not built into peapod yet (${archive} was checked and CRIU can run)`);
  }
}
