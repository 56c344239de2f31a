import type * as fs from 'node:fs';
import { notFound, wrongState } from '../../common/errors';
import { attachContainer } from './attach';
import { createContainer, CreateOptions } from './create';
import { ContainerDeps, containerDeps, ContainerEngineOptions, EngineImage, EngineSandbox, runtimeFor } from './deps';
import { execStreaming, runningContainer } from './exec';
import { ExecOverrides, readOciSpec } from './exec-process';
import { execSync, ExecSyncOptions, ExecSyncResult } from './exec-sync';
import { applyExit, exitRecorded, waitExit, watchExits } from './exits';
import type { RecordChange } from '../lifecycle-events';
import type { ContainerRecord } from './record';
import { recreateContainer } from './recreate';
import { recoverContainers } from './recover';
import { importLegacyRecords } from '../legacy-records';
import { removeContainer } from './remove';
import { reopenLog } from './reopen-log';
import { restrictHostRootfs, unrestrictedRootfsMounts } from './rootfs';
import type { ContainerResources, ContainerSpec } from './spec';
import { startContainer } from './start';
import { containerUsage, ContainerUsage } from './stats';
import type { StdioStreams } from './stdio';
import { stopContainer } from './stop';
import { updateResources } from './update';
import { openStateDb, Owner, StateDb } from '../state-db';
import type { OciRuntime } from '../oci/runc';
import type { OciSpec } from '../oci/types';

export type { ContainerEngineOptions, EngineImage, EngineLog, EngineRuntime, EngineSandbox } from './deps';
export type { CreateOptions } from './create';
export type { ExecOverrides } from './exec-process';
export { EXEC_SYNC_MAX_OUTPUT } from './exec-sync';
export type { ExecSyncOptions, ExecSyncResult } from './exec-sync';

/**
 * The containers, for every front end: one object holding what the verbs
 * share (the record store, the per-container locks, the exit waiters, the
 * host's facts) and one method per verb, each in its own file (create.ts,
 * start.ts, stop.ts, remove.ts, exec-sync.ts, exec.ts, attach.ts, update.ts,
 * reopen-log.ts, exits.ts, recover.ts). States and their transitions are
 * drawn in state.ts; where files live in paths.ts.
 *
 * Containers are OCI bundles on an overlay rootfs, run by the OCI runtime
 * under a conmon monitor each; their exits are followed through conmon's
 * exit files. Every method takes a full container ID or a unique prefix.
 */
export class ContainerEngine {
  private readonly deps: ContainerDeps;
  private watcher: fs.FSWatcher | undefined;

  private readonly ownDb: StateDb | undefined;

  /** Makes the directories; call `recover()` before use (or use `open`). */
  constructor(opts: ContainerEngineOptions) {
    this.ownDb = opts.state ? undefined : openStateDb(opts.root, 'cri');
    this.deps = containerDeps(opts, opts.state ?? this.ownDb!);
  }

  /**
   * Reports every change of this engine's container records to `observer`
   * (after it is written; see ContainerStore.observer), or stops with undefined.
   */
  observeRecords(observer: ((change: RecordChange<ContainerRecord>) => void) | undefined): void {
    this.deps.store.observer = observer;
  }

  /** A new engine, recovered (see `recover`). */
  static async open(opts: ContainerEngineOptions): Promise<ContainerEngine> {
    const e = new ContainerEngine(opts);
    await e.recover();
    return e;
  }

  /**
   * Removes leftovers, rolls back this front end's interrupted creations,
   * reconciles the rest with the exit files and (unless told not to) the
   * runtime (recover.ts), makes every created container's rootfs nosuid,nodev
   * in the host's view (rootfs.ts), and starts watching exits (unless told not to).
   * Called once, before use.
   */
  async recover(options: { reconcileRuntime?: boolean; watchExits?: boolean } = {}): Promise<void> {
    if (this.ownDb) importLegacyRecords(this.ownDb, this.deps.opts.root);
    await recoverContainers(this.deps, { reconcileRuntime: options.reconcileRuntime ?? true });
    // Rootfs mounts an older peapod left suid and dev in the host's view (rootfs.ts); never one still being created.
    for (const id of unrestrictedRootfsMounts(this.deps.dirs.bundles)) {
      const rec = this.deps.store.getAny(id);
      if (rec && rec.state !== 'creating') await restrictHostRootfs(rec.rootfs).catch((err: unknown) => this.deps.opts.log.warn({ id, err }, 'making the rootfs nosuid,nodev failed'));
    }
    if (options.watchExits ?? true) this.watcher = watchExits(this.deps);
  }

  /**
   * Starts watching conmon's exit directory (when not watching already), so
   * waits for an exit (stop) end as soon as it happens; recover() does this
   * unless told not to. A short-lived front end that skips recovery calls it
   * before a stop.
   */
  watch(): void {
    this.watcher ??= watchExits(this.deps);
  }

  /** Stops watching exits (and closes the state database when it opened it). Containers and their monitors keep running. */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.ownDb?.close();
  }

  /** The front end whose containers these are. */
  get owner(): Owner {
    return this.deps.store.owner;
  }

  /**
   * A container by full ID or unique ID prefix.
   * @throws NotFoundError when none or several match.
   */
  get(idOrPrefix: string): ContainerRecord {
    const rec = this.find(idOrPrefix);
    if (!rec) throw notFound(`container "${idOrPrefix}" not found`);
    return rec;
  }

  /** Like `get` but undefined when not found. */
  find(idOrPrefix: string): ContainerRecord | undefined {
    return this.deps.store.find(idOrPrefix);
  }

  /** Every container (not those being created). */
  list(): ContainerRecord[] {
    return this.deps.store.list();
  }

  /** This front end's containers named `name`, in any pod (not those being created). */
  findByName(name: string): ContainerRecord[] {
    return this.deps.store.findByName(name);
  }

  /** Another front end's containers, for read-only views (not those being created). */
  listOf(owner: Owner): ContainerRecord[] {
    return this.deps.store.listOf(owner);
  }

  /** IDs of the containers, of every owner and state, whose rootfs uses image `imageId`: one query. */
  usingImage(imageId: string): string[] {
    return this.deps.store.usingImage(imageId);
  }

  /** Removed containers of image `imageId` whose rootfs a live process still releases (image-removal.ts ImageUsers). */
  releasing(imageId: string): string[] {
    return this.deps.store.releasingImage(imageId);
  }

  /** Runs `fn` while no container can be recorded, by any process (image-removal.ts ImageUsers). */
  exclusive<T>(fn: () => T): T {
    return this.deps.store.exclusive(fn);
  }

  /**
   * A container after re-reading its exit file (in case a watch event was
   * missed), as status reports it. Without an exit file (exitRecorded) the
   * record is answered as read: no lock, no write.
   */
  async refresh(idOrPrefix: string): Promise<ContainerRecord> {
    const rec = this.get(idOrPrefix);
    if (rec.state === 'exited' || !exitRecorded(this.deps, rec)) return rec;
    await applyExit(this.deps, rec.id);
    return this.get(rec.id);
  }

  /**
   * A running container, refreshed from its exit file.
   * @throws NotFoundError; WrongStateError naming `verb` when it is not running.
   */
  running(idOrPrefix: string, verb: string): Promise<ContainerRecord> {
    return runningContainer(this.deps, this.get(idOrPrefix).id, verb);
  }

  /** The OCI config written for a container (config.json), undefined once the bundle is gone. */
  spec(idOrPrefix: string): OciSpec | undefined {
    const rec = this.find(idOrPrefix);
    return rec ? readOciSpec(rec) : undefined;
  }

  /** The OCI runtime of a container's handler. */
  runtimeOf(rec: ContainerRecord): OciRuntime {
    return runtimeFor(this.deps, rec.runtimeHandler);
  }

  /** Creates a container in a ready pod from its spec (create.ts); `options` as CreateOptions. */
  create(sandbox: EngineSandbox, spec: ContainerSpec, image: EngineImage, options: CreateOptions = {}): Promise<ContainerRecord> {
    return createContainer(this.deps, sandbox, spec, image, options);
  }

  /** Makes an exited container created again, ready to start (recreate.ts). */
  recreate(idOrPrefix: string, options: { exitCommand?: string[] } = {}): Promise<ContainerRecord> {
    return recreateContainer(this.deps, this.get(idOrPrefix).id, options);
  }

  /**
   * Sends `signal` (a name such as SIGHUP, or a number) to a running
   * container's init process; its exit, if it ends, is recorded from the exit file.
   * @throws NotFoundError; WrongStateError when it is not running; RuntimeError when the runtime refuses the signal.
   */
  async signal(idOrPrefix: string, signal: string): Promise<void> {
    const rec = await this.running(idOrPrefix, 'kill');
    await runtimeFor(this.deps, rec.runtimeHandler).kill(rec.id, signal);
  }

  /** Starts a created container (start.ts). */
  start(idOrPrefix: string): Promise<void> {
    return startContainer(this.deps, this.get(idOrPrefix).id);
  }

  /** Stops a container: stop signal, `timeoutSec` of grace, SIGKILL (stop.ts). Unknown or exited: nothing to do. */
  async stop(idOrPrefix: string, timeoutSec: number): Promise<void> {
    const rec = this.find(idOrPrefix);
    if (rec) await stopContainer(this.deps, rec.id, timeoutSec);
  }

  /**
   * Waits until a container has exited (watching the exit directory; see
   * `watch`), at most `timeoutMs`.
   * @returns the record once exited; undefined when the time ran out or the container is gone.
   */
  async wait(idOrPrefix: string, timeoutMs = Infinity): Promise<ContainerRecord | undefined> {
    const id = this.get(idOrPrefix).id;
    this.watch();
    const end = Date.now() + timeoutMs;
    for (;;) {
      const left = end - Date.now();
      // waitExit wakes on the watcher; its timer is a last look, so waits go in 1 s steps that also notice a removal.
      const exited = await waitExit(this.deps, id, Math.max(0, Math.min(left, 1000)));
      const rec = this.find(id);
      if (!rec) return undefined;
      if (exited || rec.state === 'exited') return rec;
      if (Date.now() >= end) return undefined;
    }
  }

  /**
   * Removes a container, stopping it first (remove.ts). Unknown: nothing to do.
   * @param options.background release the runtime's state, cgroup, rootfs
   *   and bundle after returning (release.ts); `released` waits for it
   */
  async remove(idOrPrefix: string, options: { background?: boolean } = {}): Promise<void> {
    const rec = this.find(idOrPrefix);
    if (!rec) return;
    await removeContainer(this.deps, rec.id, options);
  }

  /** Resolves once the background releases of removed containers of pod `sandboxId` (of every pod when absent) have ended. */
  released(sandboxId?: string): Promise<void> {
    return this.deps.releases.settled(sandboxId);
  }

  /** Runs a command to its end and returns its output (exec-sync.ts). */
  execSync(idOrPrefix: string, cmd: string[], timeoutSec: number, options: ExecSyncOptions = {}): Promise<ExecSyncResult> {
    return execSync(this.deps, this.get(idOrPrefix).id, cmd, timeoutSec, options);
  }

  /** Runs a command with the client's stdio (exec.ts), its process changed by `overrides`. */
  exec(idOrPrefix: string, cmd: string[], io: StdioStreams, overrides: ExecOverrides = {}): Promise<number> {
    return execStreaming(this.deps, this.get(idOrPrefix).id, cmd, io, overrides);
  }

  /** Joins a running container's stdio (attach.ts). */
  attach(idOrPrefix: string, io: StdioStreams): Promise<void> {
    return attachContainer(this.deps, this.get(idOrPrefix).id, io);
  }

  /** Applies new cgroup limits (update.ts). */
  updateResources(idOrPrefix: string, resources: ContainerResources): Promise<void> {
    return updateResources(this.deps, this.get(idOrPrefix).id, resources);
  }

  /**
   * Copies between the host and a container's rootfs (copy.ts): `into`
   * the container from host path `from` to container path `to`, or out of
   * it. A running container is frozen while the copy runs, so its processes
   * cannot swap a directory for a link meanwhile.
   * @throws NotFoundError for an unknown container or a missing path;
   *   WrongStateError when its rootfs is not mounted (the host rebooted).
   */
  async copy(idOrPrefix: string, direction: 'into' | 'out', from: string, to: string): Promise<void> {
    const { copyIntoRootfs, copyOutOfRootfs } = require('./copy') as typeof import('./copy');
    const { isMountPoint } = require('../../common/host/mounts') as typeof import('../../common/host/mounts');
    const id = this.get(idOrPrefix).id;
    await this.deps.locks.run(id, async () => {
      const rec = this.get(id);
      if (!isMountPoint(rec.rootfs)) throw wrongState(`container ${rec.id} has no mounted rootfs (the host rebooted?)`);
      const runtime = runtimeFor(this.deps, rec.runtimeHandler);
      const freeze = rec.state === 'running';
      if (freeze) await runtime.pause(rec.id);
      try {
        if (direction === 'into') await copyIntoRootfs(rec.rootfs, from, to);
        else await copyOutOfRootfs(rec.rootfs, from, to);
      } finally {
        if (freeze) await runtime.resume(rec.id);
      }
    });
  }

  /** Has the monitor reopen the log file (reopen-log.ts). */
  reopenLog(idOrPrefix: string): Promise<void> {
    return reopenLog(this.deps, this.get(idOrPrefix).id);
  }

  /**
   * Resource usage of a container: its cgroup (when running), read now, and
   * its writable layer as last measured in the background (zeros until the
   * first measurement; a new one starts when the last is 10 s old).
   */
  usage(idOrPrefix: string): ContainerUsage {
    return this.usageOf(this.get(idOrPrefix));
  }

  /** `usage` of a record already read. */
  usageOf(rec: ContainerRecord): ContainerUsage {
    return containerUsage(rec, this.deps.layerUsage.get(rec.id, rec.upperDir));
  }

  /** The writable layer's bytes and inodes as last measured in the background (layer-usage.ts), without reading the cgroup. */
  writableLayerUsage(rec: Pick<ContainerRecord, 'id' | 'upperDir'>): { usedBytes: bigint; inodesUsed: bigint } {
    return this.deps.layerUsage.get(rec.id, rec.upperDir);
  }

  /** Resolves once the background work (releases of removed containers, layer measurements, deletes of removed containers' trees) is done. */
  async settled(): Promise<void> {
    await this.deps.releases.settled();
    await Promise.all([this.deps.layerUsage.settled(), this.deps.trash.settled()]);
  }
}
