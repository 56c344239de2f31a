import { ensurePrivateDir } from '../../common/host/private-paths';
import { SharedKeyedLock } from '../../common/process-lock';
import { Trash } from '../../common/trash';
import { PendingReleases } from './pending-releases';
import { releaseMarkers } from './release-markers';
import type { StateDb } from '../state-db';
import type { ConmonDriver } from '../../conmon/driver';
import type { OciRuntime } from '../oci/runc';
import type { OciImageConfig } from '../oci/types';
import type { SpecSandbox } from '../oci/spec';
import type { SandboxState } from '../sandbox/state';
import { inUserNamespace } from '../../common/userns';
import { RootlessCgroups, rootlessCgroups } from '../oci/rootless';
import { appArmorEnabled, currentOomScoreAdj, hostCapabilities, swapControlAvailable } from './host';
import { ContainerDirs, containerDirs } from './paths';
import type { LayerStack } from './rootfs';
import { WritableLayerUsage } from './layer-usage';
import { isCgroupV2 } from './stats';
import { runtimeOfHandler } from './runtime-handler';
import { ContainerStore } from './store';

/** The pod sandbox as the container code needs it (a subset of the sandbox record). */
export interface EngineSandbox extends SpecSandbox {
  /** Only a ready pod takes new containers. */
  state: SandboxState;
  /** The pod's log directory ('' when none). */
  logDirectory: string;
  /** cgroupsPath prefix of this pod's containers ('' for the default). */
  cgroupParent: string;
  /** Runtime handler name ('' for the default). */
  runtimeHandler: string;
}

/** The image as the container code needs it. */
export interface EngineImage {
  /** `sha256:<hex>`. */
  id: string;
  /** Reported as image_ref: a repo digest when known, else the ID. */
  ref: string;
  config: OciImageConfig;
  layers: LayerStack;
  /**
   * Throws when the image is no longer in the store; run inside the
   * transaction that records the container (ContainerStore.insert), so an
   * image removal cannot slip between resolving the image and recording
   * the container that uses it (image-removal.ts).
   */
  confirm?: () => void;
}

/** A runtime handler: binary and state directory. */
export interface EngineRuntime {
  runtime_path: string;
  runtime_root: string;
}

/** The minimal logger the container code writes to (pino-compatible). */
export interface EngineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Settings of the container code. */
export interface ContainerEngineOptions {
  /** Persistent state root (records and writable layers go to `<root>/containers`). */
  root: string;
  /** Runtime state root (bundles, exit files, sockets under `<runroot>/containers*`). */
  runroot: string;
  conmon: ConmonDriver;
  runtimes: Record<string, EngineRuntime>;
  defaultRuntime: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  log: EngineLog;
  /** The state database the records live in (shared with the pods); by default `<root>/state.db` opened for owner `cri`. */
  state?: StateDb;
}

/** What the host allows containers, probed once. */
export interface HostFacts {
  /** Every capability this process can grant. */
  capabilities: string[];
  /** This process's oom_score_adj: no child may go below it. */
  oomFloor: number;
  cgroupV2: boolean;
  appArmor: boolean;
  swapControl: boolean;
  /** Inside a user namespace (rootless, oci/rootless.ts): the cgroups its containers can have; undefined as root. */
  rootless?: RootlessCgroups;
}

/** Probes the host (see HostFacts). */
export function probeHost(): HostFacts {
  const cgroupV2 = isCgroupV2();
  return { capabilities: hostCapabilities(), oomFloor: currentOomScoreAdj(), cgroupV2, appArmor: appArmorEnabled(), swapControl: swapControlAvailable(cgroupV2), ...(inUserNamespace() ? { rootless: rootlessCgroups() } : {}) };
}

/** Everything a container verb (create.ts, start.ts, …) works with. */
export interface ContainerDeps {
  opts: ContainerEngineOptions;
  dirs: ContainerDirs;
  store: ContainerStore;
  /** One operation per container at a time, in this process and across processes. */
  locks: SharedKeyedLock;
  /** Callbacks waiting for a container's exit, by ID. */
  exitWaiters: Map<string, Set<() => void>>;
  host: HostFacts;
  /** Removed containers' directories, deleted in the background. */
  trash: Trash;
  /** The writable layers' disk usage, measured in the background and cached. */
  layerUsage: WritableLayerUsage;
  /** Removed containers' runtime state, cgroup, rootfs and bundle, released in the background (release.ts). */
  releases: PendingReleases;
}

/** Builds the dependencies on a state database and makes the directories. */
export function containerDeps(opts: ContainerEngineOptions, state: StateDb): ContainerDeps {
  const dirs = containerDirs(opts.root, opts.runroot);
  for (const d of [dirs.bundles, dirs.exits, dirs.sockets]) ensurePrivateDir(d);
  const trash = new Trash(dirs.trash, opts.log);
  return {
    opts,
    dirs,
    store: new ContainerStore(state, dirs.state, trash),
    locks: new SharedKeyedLock(state.locks, 'container:'),
    exitWaiters: new Map(),
    host: probeHost(),
    trash,
    layerUsage: new WritableLayerUsage(10_000, opts.log),
    releases: new PendingReleases(opts.log, releaseMarkers(state)),
  };
}

/**
 * The OCI runtime of a handler ('' for the default).
 * @throws InvalidArgumentError when the handler is not configured.
 */
export function runtimeFor(deps: ContainerDeps, handler: string): OciRuntime {
  return runtimeOfHandler(deps.opts.runtimes, deps.opts.defaultRuntime, handler);
}
