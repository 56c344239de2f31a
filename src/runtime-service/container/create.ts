import { checkContainerResources } from './resource-bounds';
import { checkSpecBounds } from './spec-bounds';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncDirs } from '../../common/atomic-file';
import { internal, invalidArgument, PeapodError, wrongState } from '../../common/errors';
import { untrustedDirectoryProblem } from '../../common/host/private-paths';
import { nowNs } from '../../common/time';
import type { ConmonCreateOptions, PreparedMonitor } from '../../conmon/driver';
import type { OciRuntime } from '../oci/runc';
import { buildSpec } from '../oci/spec';
import { checkRootlessResources, gidMapped, rootlessSpec } from '../oci/rootless';
import { readInRoot, resolveUser } from '../oci/user';
import { containerCgroupsPath } from '../sandbox/cgroups';
import { ContainerDeps, EngineImage, EngineSandbox, runtimeFor } from './deps';
import { localhostSeccomp, resolveDevices, resolveMounts, targetPidNamespace } from './inputs';
import { checkContainerSysctls } from './sysctls';
import { containerPaths } from './paths';
import type { ContainerRecord, RecordedMount } from './record';
import { mountRootfs, restrictHostRootfs } from './rootfs';
import { tearDownContainer } from './teardown';
import type { ContainerSpec } from './spec';
import { quoteInput } from '../../common/bounded-text';

/** A new container ID: 32 random bytes in lowercase hex. */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

/** The monitor of container `rec`: its bundle, log, exit and socket directories, stdio settings. */
export function conmonOptions(deps: ContainerDeps, rec: ContainerRecord, runtime: OciRuntime, exitCommand: string[] | undefined): ConmonCreateOptions {
  const p = containerPaths(deps.dirs, rec.id);
  return {
    id: rec.id,
    bundle: p.bundle,
    runtimePath: runtime.binary,
    runtimeRoot: runtime.root,
    pidFile: p.pidFile,
    conmonPidFile: p.conmonPidFile,
    logPath: rec.logPath || p.consoleLog,
    exitDir: deps.dirs.exits,
    socketDir: deps.dirs.sockets,
    persistDir: p.persistDir,
    terminal: rec.tty,
    stdin: rec.stdin,
    stdinOnce: rec.stdinOnce,
    systemdCgroup: deps.opts.cgroupDriver === 'systemd' && deps.host.rootless?.kind !== 'none',
    exitCommand,
  };
}

/** Pattern of a container ID. */
export const CONTAINER_ID_PATTERN = /^[0-9a-f]{64}$/;

/** How a front end wants a container made, beyond its spec. */
export interface CreateOptions {
  /**
   * The container's ID, chosen by the front end (64 lowercase hex digits),
   * e.g. to name the pod or the hostname after it; default a random one.
   */
  id?: string;
  /** What conmon runs after the container exited (ConmonCreateOptions.exitCommand); default nothing. */
  exitCommand?: string[];
  /** The name must be free among all of this front end's containers, not only in its pod (see ContainerStore.insert). */
  uniqueName?: boolean;
}

/**
 * Creates a container from its spec in a ready pod: writes its record
 * (state `creating`, which takes its name in the pod), mounts the rootfs
 * from the image's layers, writes the OCI bundle and has conmon run
 * `runtime create`; the record then becomes `created` (see state.ts).
 *
 * Any failure rolls back everything done (teardown.ts: monitor, runtime
 * state, cgroup, rootfs, bundle, files, record) and rethrows; refusals keep their code, failures of the
 * tools become INTERNAL naming the container.
 *
 * @returns the record, created.
 * @throws InvalidArgumentError for a missing name, no command, bad mounts or
 *   devices, unknown users (with the spec's `field`); what `image.confirm`
 *   throws (the image was removed meanwhile: nothing is made);
 *   AlreadyExistsError when the name and attempt are taken in the pod, or the ID given in `options` is taken;
 *   WrongStateError when the pod is not ready;
 *   InternalError when mount, bundle or conmon fail.
 */
export async function createContainer(deps: ContainerDeps, sandbox: EngineSandbox, spec: ContainerSpec, image: EngineImage, options: CreateOptions = {}): Promise<ContainerRecord> {
  const name = spec.name;
  if (!name) throw invalidArgument('a container needs a name', { field: 'name' });
  if (options.id !== undefined && !CONTAINER_ID_PATTERN.test(options.id)) throw invalidArgument(`container ID ${quoteInput(options.id)} is not 64 lowercase hex digits`, { field: 'id' });
  if (sandbox.state !== 'ready') throw wrongState(`pod sandbox ${sandbox.id} is not ready`);
  const runtime = runtimeFor(deps, sandbox.runtimeHandler);
  const id = options.id ?? newContainerId();
  const p = containerPaths(deps.dirs, id);
  const rec: ContainerRecord = {
    version: 1,
    id,
    owner: deps.store.owner,
    sandboxId: sandbox.id,
    metadata: { name, attempt: spec.attempt ?? 0 },
    state: 'creating',
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
    bundle: p.bundle,
    rootfs: p.rootfs,
    upperDir: p.upperDir,
    workDir: p.workDir,
    persistDir: p.persistDir,
    cgroupsPath: containerCgroupsPath(deps.opts.cgroupDriver, sandbox.cgroupParent, id),
    resources: spec.resources ? structuredClone(spec.resources) : null,
    tty: spec.tty ?? false,
    stdin: spec.stdin ?? false,
    stdinOnce: spec.stdinOnce ?? false,
  };
  // The inputs are checked before anything is written, so a bad spec leaves nothing.
  checkSpecBounds(spec, image.config);
  checkContainerSysctls(spec.sysctls, sandbox.namespaces);
  checkContainerResources(spec.resources);
  const mounts = resolveMounts(spec.mounts ?? []);
  const devices = resolveDevices(spec.devices ?? []);
  const seccomp = localhostSeccomp(spec);
  const targetPidNs = await targetPidNamespace(deps, sandbox.id, spec);
  if (deps.host.rootless) checkRootlessResources(spec.resources, deps.host.rootless);
  rec.mounts = mounts.map((m): RecordedMount => ({ ...m }));
  // The record first (it takes the name); then the files, so every file has a record.
  deps.store.insert(rec, { uniqueName: options.uniqueName, guard: image.confirm });
  let conmonStarted = false;
  let monitor: PreparedMonitor | undefined;
  try {
    // Owner only: the bundle holds config.json (every env var) and the rootfs mount,
    // the state dir the writable layer (docs/security.md).
    fs.mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(p.bundle, { recursive: true, mode: 0o700 });
    fs.mkdirSync(p.persistDir, { recursive: true, mode: 0o700 });
    if (rec.logPath) {
      fs.mkdirSync(path.dirname(rec.logPath), { recursive: true });
      // conmon, as root, creates and appends the log: no other user may be able to swap its directory (docs/security.md).
      const problem = untrustedDirectoryProblem(path.dirname(rec.logPath));
      if (problem) throw invalidArgument(`the log file's directory is not safe for root to write logs into: ${problem}`, { field: 'logPath' });
    }
    // conmon starts now and waits on its start pipe while the rootfs is mounted
    // and the spec written (ConmonDriver.prepare): its exec and loading are off the path.
    conmonStarted = true;
    monitor = deps.opts.conmon.prepare(conmonOptions(deps, rec, runtime, options.exitCommand));
    await mountRootfs(image.layers, p.upperDir, p.workDir, p.rootfs);
    // The state directory (writable layer, persist dir) is durable before the
    // record says created: synced off the event loop while the runtime works.
    const stateDirDurable = syncDirs([deps.dirs.state, p.stateDir]);
    stateDirDurable.catch(() => undefined);
    const user = resolveUser(spec.user, image.config.config?.User, readInRoot(p.rootfs, '/etc/passwd') ?? '', readInRoot(p.rootfs, '/etc/group') ?? '');
    const builtSpec = buildSpec({
      containerId: id,
      spec,
      image: image.config,
      sandbox,
      rootfsPath: p.rootfs,
      user: user.user,
      home: user.home,
      mounts,
      devices,
      cgroupsPath: rec.cgroupsPath,
      targetPidNamespace: targetPidNs,
      minOomScoreAdj: deps.host.oomFloor,
      allCapabilities: deps.host.capabilities,
      cgroupV2: deps.host.cgroupV2,
      appArmorEnabled: deps.host.appArmor,
      swapControl: deps.host.swapControl,
      localhostSeccomp: seccomp,
    });
    const rootless = deps.host.rootless;
    const ociSpec = rootless
      ? rootlessSpec(builtSpec, { cgroups: rootless, hostNetwork: !sandbox.namespaces.network, hostIpc: !sandbox.namespaces.ipc, hostMqueue: fs.existsSync('/dev/mqueue'), containerId: id, ttyGroupMapped: gidMapped(5, fs.readFileSync('/proc/self/gid_map', 'utf8')) })
      : builtSpec;
    fs.writeFileSync(p.configJson, JSON.stringify(ociSpec, null, 1), { mode: 0o600 });
    const created = await monitor.run();
    // The container's mount namespace has its own copy of the rootfs mount now; the host's becomes nosuid,nodev.
    await restrictHostRootfs(p.rootfs);
    await stateDirDurable;
    return deps.store.transition(id, { type: 'created', pid: created.pid, user: { uid: user.user.uid, gid: user.user.gid, additionalGids: user.user.additionalGids ?? [] } });
  } catch (err) {
    // A conmon still waiting on its start pipe is killed before it could run the runtime.
    monitor?.cancel();
    // Everything made so far, unmade (teardown.ts): with conmon started, its processes are looked for by their arguments too.
    await tearDownContainer(deps, rec, { search: conmonStarted, tolerant: true });
    // Expected refusals keep their code; failures of the tools become INTERNAL naming the container.
    if (err instanceof PeapodError && err.code !== 'INTERNAL') throw err;
    throw internal(`creating container ${quoteInput(name)}: ${(err as Error).message}`, { cause: err });
  }
}
