import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachSocketPath, ConmonDriver, ConmonError, exitFilePath, oomFilePath, persistExitFilePath, readExitFile } from '../../conmon/driver';
import { alreadyExists, internal, invalidArgument, notFound, PeapodError, wrongState } from '../../common/errors';
import { KeyedLock } from '../../common/keyed-lock';
import { nowNs, sleep } from '../../common/time';
import { OciRuntime } from '../oci/runc';
import { buildSpec, HostDevice, ociResources, ResolvedMount, SpecSandbox } from '../oci/spec';
import type { OciImageConfig, OciSeccomp, OciSpec } from '../oci/types';
import { readInRoot, resolveUser } from '../oci/user';
import { appArmorEnabled, currentOomScoreAdj, deviceNumbers, hostCapabilities, swapControlAvailable } from './host';
import { closePartialLogLines, splitLogStreams } from './logs';
import { ContainerRecord, ContainerRecordStore, RecordedMount } from './record';
import type { ContainerDevice, ContainerMount, ContainerResources, ContainerSpec } from './spec';
import { LayerStack, mountRootfs, unmountRootfs } from './rootfs';
import { cgroupUsage, CgroupUsage, directoryUsage, isCgroupV2 } from './stats';

/** The pod sandbox as the engine needs it (a subset of the sandbox store's record). */
export interface EngineSandbox extends SpecSandbox {
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  /** The kubelet's log_directory for this pod ('' when none). */
  logDirectory: string;
  /** cgroupsPath prefix of this pod's containers ('' for the default). */
  cgroupParent: string;
  /** Runtime handler name ('' for the default). */
  runtimeHandler: string;
}

/** The image as the engine needs it. */
export interface EngineImage {
  /** `sha256:<hex>`. */
  id: string;
  /** Reported as image_ref: a repo digest when known, else the ID. */
  ref: string;
  config: OciImageConfig;
  layers: LayerStack;
}

/** A runtime handler: binary and state directory. */
export interface EngineRuntime {
  runtime_path: string;
  runtime_root: string;
}

/** The minimal logger the engine writes to (pino-compatible). */
export interface EngineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Engine settings. */
export interface ContainerEngineOptions {
  /** Persistent state root (records and writable layers go to `<root>/containers`). */
  root: string;
  /** Runtime state root (bundles, exit files, sockets under `<runroot>/containers`, …). */
  runroot: string;
  conmon: ConmonDriver;
  runtimes: Record<string, EngineRuntime>;
  defaultRuntime: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  log: EngineLog;
}

/** ExecSync's result. */
export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Each of ExecSync's outputs is cut at 16 MiB. */
export const EXEC_SYNC_MAX_OUTPUT = 16 << 20;
/** The stderr text and exit code of an ExecSync whose timeout expired. */
export const EXEC_TIMED_OUT_MESSAGE = 'command timed out';
export const EXEC_TIMED_OUT_EXIT_CODE = -1;

/**
 * The container engine: creates OCI bundles on an overlay rootfs, runs them
 * with the OCI runtime under a conmon monitor, follows their exits through
 * conmon's exit files, and keeps a crash-safe record per container.
 *
 * Directories: `<root>/containers/<id>/` (record.json, upper/, work/,
 * persist/), `<runroot>/containers/<id>/` (the bundle: config.json,
 * rootfs/, pid files, conmon's ctl FIFO), `<runroot>/containers-exits/`
 * (one exit file per container), `<runroot>/containers-sockets/`.
 */
export class ContainerEngine {
  private readonly records: ContainerRecordStore;
  private readonly byId = new Map<string, ContainerRecord>();
  /** `<sandboxId>/<name>/<attempt>` → container ID (names in use, including creations in flight). */
  private readonly names = new Map<string, string>();
  private readonly lock = new KeyedLock();
  private readonly exitWaiters = new Map<string, Set<() => void>>();
  /** Containers created for a caller that had gone away (deadline passed): the caller's retry gets them. */
  private readonly unclaimed = new Set<string>();
  private readonly exitDir: string;
  private readonly socketDir: string;
  private readonly bundleRoot: string;
  private watcher: fs.FSWatcher | undefined;
  private readonly capabilities = hostCapabilities();
  private readonly oomFloor = currentOomScoreAdj();
  private readonly cgroupV2 = isCgroupV2();
  private readonly appArmor = appArmorEnabled();
  private readonly swapControl = swapControlAvailable(this.cgroupV2);

  /** Makes the engine's directories; call `recover()` before use (or use `open`). */
  constructor(private readonly opts: ContainerEngineOptions) {
    this.records = new ContainerRecordStore(path.join(opts.root, 'containers'));
    this.bundleRoot = path.join(opts.runroot, 'containers');
    this.exitDir = path.join(opts.runroot, 'containers-exits');
    this.socketDir = path.join(opts.runroot, 'containers-sockets');
    for (const d of [this.bundleRoot, this.exitDir, this.socketDir]) fs.mkdirSync(d, { recursive: true });
  }

  /**
   * Opens the engine: loads the records, reconciles them with the runtime
   * (`runc state`) and conmon's exit files (containers that ended while
   * peapod was down get their exit code and time), and starts watching the
   * exit directory.
   */
  static async open(opts: ContainerEngineOptions): Promise<ContainerEngine> {
    const e = new ContainerEngine(opts);
    await e.recover();
    return e;
  }

  /** The sandbox a container belongs to, by container ID or prefix. */
  sandboxOf(idOrPrefix: string): string {
    return this.get(idOrPrefix).sandboxId;
  }

  /** Stops watching exits. Containers and their monitors keep running. */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** The OCI runtime of a container's handler. */
  runtimeOf(rec: ContainerRecord): OciRuntime {
    return this.runtime(rec.runtimeHandler);
  }

  /** conmon's attach socket of a container (SOCK_SEQPACKET). */
  attachSocket(rec: ContainerRecord): string {
    return attachSocketPath(this.socketDir, rec.id);
  }

  private runtime(handler: string): OciRuntime {
    const name = handler || this.opts.defaultRuntime;
    const rt = this.opts.runtimes[name];
    if (!rt) throw invalidArgument(`runtime handler "${name}" is not configured`);
    return new OciRuntime(rt.runtime_path, rt.runtime_root);
  }

  private nameKey(sandboxId: string, name: string, attempt: number): string {
    return `${sandboxId}/${name}/${attempt}`;
  }

  /**
   * Loads the records, reconciles them with the runtime and exit files, and
   * starts watching exits. Called once, before serving.
   */
  async recover(): Promise<void> {
    const { records, orphans } = this.records.loadAll();
    for (const id of orphans) {
      this.opts.log.warn({ id }, 'removing container directory without a record');
      await unmountRootfs(path.join(this.bundleRoot, id, 'rootfs')).catch(() => undefined);
      fs.rmSync(path.join(this.bundleRoot, id), { recursive: true, force: true });
      this.records.delete(id);
    }
    for (const rec of records.filter((r) => r.creating)) {
      this.opts.log.warn({ id: rec.id }, 'rolling back a container creation interrupted by a crash');
      await this.runtime(rec.runtimeHandler).delete(rec.id).catch(() => undefined);
      await unmountRootfs(rec.rootfs).catch(() => undefined);
      fs.rmSync(rec.bundle, { recursive: true, force: true });
      fs.rmSync(exitFilePath(this.exitDir, rec.id), { force: true });
      this.records.delete(rec.id);
    }
    for (const rec of records.filter((r) => !r.creating)) {
      this.byId.set(rec.id, rec);
      this.names.set(this.nameKey(rec.sandboxId, rec.metadata.name, rec.metadata.attempt), rec.id);
    }
    this.watch();
    for (const rec of this.byId.values()) {
      if (rec.state === 'CONTAINER_EXITED') continue;
      if (await this.handleExit(rec.id)) continue;
      let st;
      try {
        st = await this.runtime(rec.runtimeHandler).state(rec.id);
      } catch (err) {
        this.opts.log.warn({ id: rec.id, err }, 'runtime state failed during recovery');
        continue;
      }
      if (st && (st.status === 'running' || st.status === 'created' || st.status === 'paused')) {
        rec.pid = st.pid;
        rec.state = st.status === 'created' ? 'CONTAINER_CREATED' : 'CONTAINER_RUNNING';
        this.records.save(rec);
        // It may have exited between the exit-file check and now.
        await this.handleExit(rec.id);
      } else {
        rec.state = 'CONTAINER_EXITED';
        rec.exitCode = 255;
        rec.reason = 'Error';
        rec.message = 'the container ended while peapod was down and its exit status was lost';
        rec.finishedAt = nowNs().toString();
        this.records.save(rec);
      }
    }
  }

  private watch(): void {
    this.watcher = fs.watch(this.exitDir, (_event, filename) => {
      if (!filename) return;
      const id = filename.toString();
      if (this.byId.has(id)) void this.handleExit(id).catch((err) => this.opts.log.error({ id, err }, 'handling container exit failed'));
    });
    this.watcher.on('error', (err) => this.opts.log.error({ err }, 'exit directory watch failed'));
  }

  /**
   * Applies an exit recorded by conmon: state EXITED with exit code, finish
   * time and reason (OOMKilled when conmon saw the OOM killer, Completed for
   * 0, else Error); closes a partial last log line. No-op when no exit file.
   * @returns whether the container is now EXITED.
   */
  private handleExit(id: string): Promise<boolean> {
    return this.lock.run(id, async () => {
      const rec = this.byId.get(id);
      if (!rec) return false;
      if (rec.state === 'CONTAINER_EXITED') return true;
      const ex = readExitFile(exitFilePath(this.exitDir, id)) ?? readExitFile(persistExitFilePath(rec.persistDir));
      if (!ex) return false;
      const oom = fs.existsSync(oomFilePath(rec.persistDir));
      rec.state = 'CONTAINER_EXITED';
      rec.exitCode = ex.exitCode;
      // The exit file's mtime has the file system's coarse clock: never before the start.
      const started = BigInt(rec.startedAt === '0' ? rec.createdAt : rec.startedAt);
      rec.finishedAt = (ex.finishedAtNs > started ? ex.finishedAtNs : started).toString();
      if (rec.startedAt === '0') rec.startedAt = rec.finishedAt;
      rec.reason = oom ? 'OOMKilled' : ex.exitCode === 0 ? 'Completed' : 'Error';
      rec.pid = 0;
      if (rec.logPath) closePartialLogLines(rec.logPath, nowNs());
      this.records.save(rec);
      const waiters = this.exitWaiters.get(id);
      this.exitWaiters.delete(id);
      for (const w of waiters ?? []) w();
      return true;
    });
  }

  /**
   * Re-reads conmon's exit file of a container (in case a watch event was
   * missed) before its state is reported.
   */
  async refresh(idOrPrefix: string): Promise<ContainerRecord> {
    const rec = this.get(idOrPrefix);
    if (rec.state !== 'CONTAINER_EXITED') await this.handleExit(rec.id);
    return this.get(rec.id);
  }

  /** Waits up to `ms` for the container to be EXITED. */
  private async waitExit(id: string, ms: number): Promise<boolean> {
    if (await this.handleExit(id)) return true;
    return new Promise<boolean>((resolve) => {
      let set = this.exitWaiters.get(id);
      if (!set) this.exitWaiters.set(id, (set = new Set()));
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set?.delete(waiter);
        // One last look, in case the watch event was lost.
        void this.handleExit(id).then(resolve, () => resolve(false));
      }, ms);
      set.add(waiter);
    });
  }

  /**
   * Finds a container by full ID or unique ID prefix.
   * @throws NOT_FOUND when none or ambiguous.
   */
  get(idOrPrefix: string): ContainerRecord {
    const rec = this.find(idOrPrefix);
    if (!rec) throw notFound(`container "${idOrPrefix}" not found`);
    return rec;
  }

  /** Like `get` but undefined when not found. */
  find(idOrPrefix: string): ContainerRecord | undefined {
    if (!idOrPrefix) return undefined;
    const exact = this.byId.get(idOrPrefix);
    if (exact) return exact;
    const hits = [...this.byId.values()].filter((r) => r.id.startsWith(idOrPrefix));
    return hits.length === 1 ? hits[0] : undefined;
  }

  /** Every container record (copies are not made: do not mutate). */
  list(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** The OCI spec written for a container (config.json), undefined once the bundle is gone. */
  spec(id: string): OciSpec | undefined {
    const rec = this.byId.get(id);
    if (!rec) return undefined;
    try {
      return JSON.parse(fs.readFileSync(path.join(rec.bundle, 'config.json'), 'utf8')) as OciSpec;
    } catch {
      return undefined;
    }
  }

  /**
   * The spec's mounts, host paths resolved.
   * @throws InvalidArgumentError (field `mounts[i].containerPath` / `.hostPath`).
   */
  private resolveMounts(mounts: ContainerMount[]): ResolvedMount[] {
    return mounts.map((m, i) => {
      if (!m.containerPath || !m.containerPath.startsWith('/')) throw invalidArgument(`mount path "${m.containerPath}" in the container must be absolute`, { field: `mounts[${i}].containerPath` });
      if (!m.hostPath) throw invalidArgument('a mount needs a host path', { field: `mounts[${i}].hostPath` });
      let hostPath: string;
      try {
        hostPath = fs.realpathSync(m.hostPath);
      } catch {
        throw invalidArgument(`mount host path "${m.hostPath}" does not exist`, { field: `mounts[${i}].hostPath` });
      }
      return { containerPath: m.containerPath, hostPath, readonly: m.readonly ?? false, propagation: m.propagation ?? 'private' };
    });
  }

  /**
   * The spec's devices, stat'ed on the host.
   * @throws InvalidArgumentError (field `devices[i].hostPath`) for a path that is missing or not a device.
   */
  private resolveDevices(devices: ContainerDevice[]): HostDevice[] {
    return devices.map((d, i) => {
      let st: fs.Stats;
      try {
        st = fs.statSync(d.hostPath);
      } catch {
        throw invalidArgument(`device "${d.hostPath}" does not exist on the host`, { field: `devices[${i}].hostPath` });
      }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidArgument(`"${d.hostPath}" is not a device`, { field: `devices[${i}].hostPath` });
      const { major, minor } = deviceNumbers(st.rdev);
      return {
        containerPath: d.containerPath || d.hostPath,
        type: st.isCharacterDevice() ? 'c' : 'b',
        major,
        minor,
        fileMode: st.mode & 0o7777,
        permissions: d.permissions || 'rwm',
      };
    });
  }

  /**
   * The seccomp profile of a localhost setting, read from its file.
   * @throws InvalidArgumentError (field `security.seccomp.profilePath`) when it cannot be read or parsed.
   */
  private localhostSeccomp(spec: ContainerSpec): OciSeccomp | undefined {
    const seccomp = spec.security?.seccomp;
    if (spec.security?.privileged || seccomp?.type !== 'localhost') return undefined;
    try {
      return JSON.parse(fs.readFileSync(seccomp.profilePath, 'utf8')) as OciSeccomp;
    } catch (err) {
      throw invalidArgument(`seccomp profile "${seccomp.profilePath}" is not a readable profile: ${(err as Error).message}`, { field: 'security.seccomp.profilePath' });
    }
  }

  private cgroupsPath(sandbox: EngineSandbox, id: string): string {
    if (this.opts.cgroupDriver === 'systemd') return `${sandbox.cgroupParent || 'system.slice'}:peapod:${id}`;
    return path.posix.join(sandbox.cgroupParent || '/peapod', `peapod-${id}`);
  }

  /**
   * Creates a container from its spec: mounts the rootfs, writes the bundle,
   * and has conmon run `runtime create`. The container ends in state CREATED.
   *
   * @throws InvalidArgumentError for a missing name, no command, bad mounts or
   *   devices, unknown users (with the spec's `field`);
   *   AlreadyExistsError when the name and attempt are taken in the pod;
   *   WrongStateError when the sandbox is not ready;
   *   InternalError when mount, bundle or conmon fail (all created parts are removed again).
   *
   * Retries: the kubelet retries a CreateContainer whose deadline passed with
   * the same name and attempt. When `options.abandoned()` says the caller
   * is gone by the time the container exists, the container is kept for
   * that retry, which gets it instead of ALREADY_EXISTS (as CRI-O does).
   */
  async create(sandbox: EngineSandbox, spec: ContainerSpec, image: EngineImage, options: { abandoned?: () => boolean } = {}): Promise<ContainerRecord> {
    const name = spec.name;
    if (!name) throw invalidArgument('a container needs a name', { field: 'name' });
    const attempt = spec.attempt ?? 0;
    if (sandbox.state !== 'SANDBOX_READY') throw wrongState(`pod sandbox ${sandbox.id} is not ready`);
    const key = this.nameKey(sandbox.id, name, attempt);
    const taken = this.names.get(key);
    const waiting = taken ? this.byId.get(taken) : undefined;
    if (waiting && this.unclaimed.has(waiting.id) && waiting.state === 'CONTAINER_CREATED') {
      this.unclaimed.delete(waiting.id);
      return waiting;
    }
    if (taken) throw alreadyExists(`container name "${name}" (attempt ${attempt}) is already used in pod sandbox ${sandbox.id} by container ${taken}`);
    const runtime = this.runtime(sandbox.runtimeHandler);
    const id = randomBytes(32).toString('hex');
    this.names.set(key, id);

    const cdir = this.records.containerDir(id);
    const bundle = path.join(this.bundleRoot, id);
    const rootfs = path.join(bundle, 'rootfs');
    const rec: ContainerRecord = {
      version: 1,
      id,
      sandboxId: sandbox.id,
      metadata: { name, attempt },
      state: 'CONTAINER_CREATED',
      createdAt: nowNs().toString(),
      startedAt: '0',
      finishedAt: '0',
      exitCode: 0,
      reason: '',
      message: '',
      image: { name: spec.image.name, annotations: { ...spec.image.annotations }, userSpecified: spec.image.userSpecified ?? '' },
      imageId: image.id,
      imageRef: image.ref,
      labels: { ...spec.labels },
      annotations: { ...spec.annotations },
      mounts: [],
      logPath: spec.logPath ?? '',
      runtimeHandler: sandbox.runtimeHandler,
      stopSignal: spec.stopSignal || image.config.config?.StopSignal || 'SIGTERM',
      pid: 0,
      bundle,
      rootfs,
      upperDir: path.join(cdir, 'upper'),
      workDir: path.join(cdir, 'work'),
      persistDir: path.join(cdir, 'persist'),
      cgroupsPath: this.cgroupsPath(sandbox, id),
      resources: spec.resources ? structuredClone(spec.resources) : null,
      tty: spec.tty ?? false,
      stdin: spec.stdin ?? false,
      stdinOnce: spec.stdinOnce ?? false,
    };
    let conmonStarted = false;
    try {
      const mounts = this.resolveMounts(spec.mounts ?? []);
      const devices = this.resolveDevices(spec.devices ?? []);
      const localhostSeccomp = this.localhostSeccomp(spec);
      let targetPidNamespace: string | undefined;
      if (spec.pidMode === 'TARGET') {
        const target = spec.pidTargetId ? this.find(spec.pidTargetId) : undefined;
        if (target && target.pid > 0) targetPidNamespace = `/proc/${target.pid}/ns/pid`;
      }
      rec.mounts = mounts.map((m): RecordedMount => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly, propagation: m.propagation }));

      fs.mkdirSync(cdir, { recursive: true });
      fs.mkdirSync(bundle, { recursive: true });
      await mountRootfs(image.layers, rec.upperDir, rec.workDir, rootfs);
      const user = resolveUser(spec.user, image.config.config?.User, readInRoot(rootfs, '/etc/passwd') ?? '', readInRoot(rootfs, '/etc/group') ?? '');
      rec.user = { uid: user.user.uid, gid: user.user.gid, additionalGids: user.user.additionalGids ?? [] };
      const ociSpec = buildSpec({
        containerId: id,
        spec,
        image: image.config,
        sandbox,
        rootfsPath: rootfs,
        user: user.user,
        home: user.home,
        mounts,
        devices,
        cgroupsPath: rec.cgroupsPath,
        targetPidNamespace,
        minOomScoreAdj: this.oomFloor,
        allCapabilities: this.capabilities,
        cgroupV2: this.cgroupV2,
        appArmorEnabled: this.appArmor,
        swapControl: this.swapControl,
        localhostSeccomp,
      });
      // Mount points for bind-mounted files must exist in the rootfs as files, not dirs: runc creates them.
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(ociSpec, null, 1));
      rec.creating = true;
      this.records.save(rec);
      if (rec.logPath) fs.mkdirSync(path.dirname(rec.logPath), { recursive: true });
      conmonStarted = true;
      const created = await this.opts.conmon.create({
        id,
        bundle,
        runtimePath: runtime.binary,
        runtimeRoot: runtime.root,
        pidFile: path.join(bundle, 'pid'),
        conmonPidFile: path.join(bundle, 'conmon.pid'),
        logPath: rec.logPath || path.join(bundle, 'console.log'),
        exitDir: this.exitDir,
        socketDir: this.socketDir,
        persistDir: rec.persistDir,
        terminal: rec.tty,
        stdin: rec.stdin,
        stdinOnce: rec.stdinOnce,
        systemdCgroup: this.opts.cgroupDriver === 'systemd',
      });
      rec.pid = created.pid;
      delete rec.creating;
      this.byId.set(id, rec);
      this.records.save(rec);
      if (options.abandoned?.()) this.unclaimed.add(id);
      return rec;
    } catch (err) {
      this.byId.delete(id);
      this.names.delete(key);
      if (conmonStarted) await runtime.delete(id).catch(() => undefined);
      await unmountRootfs(rootfs).catch((e) => this.opts.log.error({ id, err: e }, 'unmounting rootfs after failed create'));
      fs.rmSync(bundle, { recursive: true, force: true });
      this.records.delete(id);
      fs.rmSync(exitFilePath(this.exitDir, id), { force: true });
      // Expected refusals keep their code; failures of the tools become INTERNAL naming the container.
      if (err instanceof PeapodError && err.code !== 'INTERNAL') throw err;
      throw internal(`creating container "${name}": ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * StartContainer: runs the user process of a CREATED container.
   * @throws NOT_FOUND; WRONG_STATE when it is not CREATED.
   */
  start(idOrPrefix: string): Promise<void> {
    const id = this.get(idOrPrefix).id;
    return this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.state !== 'CONTAINER_CREATED') throw wrongState(`container ${id} is ${rec.state}, not CONTAINER_CREATED`);
      const startedAt = nowNs();
      try {
        await this.runtime(rec.runtimeHandler).start(id);
      } catch (err) {
        throw internal(`starting container ${id}: ${(err as Error).message}`, { cause: err });
      }
      rec.startedAt = startedAt.toString();
      rec.state = 'CONTAINER_RUNNING';
      this.records.save(rec);
    });
  }

  /**
   * StopContainer: sends the stop signal (image StopSignal, default
   * SIGTERM), waits up to `timeoutSec`, then SIGKILLs every process of the
   * container. Timeout 0 kills at once. Unknown or exited containers: no-op.
   */
  async stop(idOrPrefix: string, timeoutSec: number): Promise<void> {
    const rec = this.find(idOrPrefix);
    if (!rec || rec.state === 'CONTAINER_EXITED') return;
    if (await this.handleExit(rec.id)) return;
    const runtime = this.runtime(rec.runtimeHandler);
    if (timeoutSec > 0 && rec.state === 'CONTAINER_RUNNING') {
      await runtime.kill(rec.id, rec.stopSignal);
      if (await this.waitExit(rec.id, timeoutSec * 1000)) return;
    }
    await runtime.kill(rec.id, 'SIGKILL', true);
    if (await this.waitExit(rec.id, 30000)) return;
    throw internal(`container ${rec.id} did not exit after SIGKILL`);
  }

  /**
   * RemoveContainer: force-stops a live container, deletes it from the
   * runtime, unmounts and deletes its rootfs, bundle and record.
   * Unknown containers: no-op.
   */
  async remove(idOrPrefix: string): Promise<void> {
    const found = this.find(idOrPrefix);
    if (!found) return;
    const id = found.id;
    if (found.state !== 'CONTAINER_EXITED') await this.stop(id, 0);
    await this.lock.run(id, async () => {
      const rec = this.byId.get(id);
      if (!rec) return;
      await this.runtime(rec.runtimeHandler).delete(id);
      await unmountRootfs(rec.rootfs);
      fs.rmSync(rec.bundle, { recursive: true, force: true });
      fs.rmSync(path.join(this.socketDir, id), { recursive: true, force: true });
      this.records.delete(id);
      fs.rmSync(exitFilePath(this.exitDir, id), { force: true });
      this.byId.delete(id);
      this.unclaimed.delete(id);
      this.names.delete(this.nameKey(rec.sandboxId, rec.metadata.name, rec.metadata.attempt));
    });
  }

  /**
   * ExecSync: runs `cmd` in a RUNNING container (same user, env, cwd and
   * capabilities as its main process) and returns its output and exit
   * code. A timeout (seconds, 0 = none) kills the process and returns exit
   * code -1 with `command timed out` on stderr; each output is capped at 16 MiB.
   * @throws INVALID_ARGUMENT for an empty cmd; WRONG_STATE when not running.
   */
  async execSync(idOrPrefix: string, cmd: string[], timeoutSec: number): Promise<ExecSyncResult> {
    if (cmd.length === 0) throw invalidArgument('cmd is required');
    const rec = this.get(idOrPrefix);
    await this.handleExit(rec.id);
    if (rec.state !== 'CONTAINER_RUNNING') throw wrongState(`container ${rec.id} is ${rec.state}, not running`);
    const spec = this.spec(rec.id);
    if (!spec) throw wrongState(`container ${rec.id} has no bundle`);
    const tag = randomBytes(8).toString('hex');
    const workDir = path.join(rec.bundle, `exec-${tag}`);
    fs.mkdirSync(workDir, { recursive: true });
    const processFile = path.join(workDir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ ...spec.process, args: cmd, terminal: false }));
    const runtime = this.runtime(rec.runtimeHandler);
    try {
      const r = await this.opts.conmon.exec({
        containerId: rec.id,
        execId: `${rec.id.slice(0, 12)}-exec-${tag}`,
        bundle: rec.bundle,
        runtimePath: runtime.binary,
        runtimeRoot: runtime.root,
        processSpecFile: processFile,
        workDir,
        timeoutSec,
        maxLogBytes: 4 * EXEC_SYNC_MAX_OUTPUT,
      });
      let log: Buffer = Buffer.alloc(0);
      try {
        log = fs.readFileSync(r.logFile);
      } catch {
        /* no output */
      }
      const out = splitLogStreams(log, EXEC_SYNC_MAX_OUTPUT);
      if (r.timedOut) {
        const stderr = Buffer.concat([out.stderr, Buffer.from(EXEC_TIMED_OUT_MESSAGE)]).subarray(0, EXEC_SYNC_MAX_OUTPUT);
        return { stdout: out.stdout, stderr, exitCode: EXEC_TIMED_OUT_EXIT_CODE };
      }
      return { stdout: out.stdout, stderr: out.stderr, exitCode: r.exitCode };
    } catch (err) {
      if (err instanceof ConmonError) throw internal(`exec in container ${rec.id}: ${err.message}`, { cause: err });
      throw err;
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }

  /**
   * UpdateContainerResources: applies new cgroup limits with `runtime update`
   * and records them.
   * @throws WRONG_STATE when the container is not created or running.
   */
  updateResources(idOrPrefix: string, resources: ContainerResources): Promise<void> {
    const id = this.get(idOrPrefix).id;
    return this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.state !== 'CONTAINER_RUNNING' && rec.state !== 'CONTAINER_CREATED') throw wrongState(`container ${id} is ${rec.state}`);
      try {
        await this.runtime(rec.runtimeHandler).update(id, ociResources(resources, this.cgroupV2, this.swapControl));
      } catch (err) {
        throw internal(`updating resources of container ${id}: ${(err as Error).message}`, { cause: err });
      }
      rec.resources = structuredClone(resources);
      this.records.save(rec);
    });
  }

  /**
   * ReopenContainerLog: has conmon reopen the log file (after the kubelet
   * renamed it) and returns once the new file exists.
   * @throws WRONG_STATE when the container is not running.
   */
  async reopenLog(idOrPrefix: string): Promise<void> {
    const rec = this.get(idOrPrefix);
    await this.handleExit(rec.id);
    if (rec.state !== 'CONTAINER_RUNNING') throw wrongState(`container ${rec.id} is not running`);
    if (!rec.logPath) return;
    try {
      this.opts.conmon.reopenLog(rec.bundle);
    } catch (err) {
      throw wrongState(`container ${rec.id}: ${(err as Error).message}`);
    }
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(rec.logPath)) {
      if (Date.now() > deadline) throw internal(`container ${rec.id}: log file ${rec.logPath} was not reopened within 5s`);
      await sleep(20);
    }
  }

  /** Resource usage of a container: its cgroup (when running) and its writable layer. */
  usage(idOrPrefix: string): { timestampNs: bigint; cgroup: CgroupUsage; writable: { usedBytes: bigint; inodesUsed: bigint } } {
    const rec = this.get(idOrPrefix);
    const cgroup = rec.state === 'CONTAINER_RUNNING' && rec.pid > 0 ? cgroupUsage(rec.pid) : {};
    return { timestampNs: nowNs(), cgroup, writable: directoryUsage(rec.upperDir) };
  }
}
