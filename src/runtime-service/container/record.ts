import type { ContainerResources, MountPropagation } from './spec';
import type { ContainerState } from './state';
import type { Owner } from '../state-db';

/** A mount as made: host path resolved, defaults filled in. */
export interface RecordedMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation: MountPropagation;
}

/** The crash-safe record of one container: everything peapod knows about it, rewritten as a whole on every change. */
export interface ContainerRecord {
  /** Record format version. */
  version: 1;
  id: string;
  /** The front end that made it (see state-db.ts). */
  owner: Owner;
  sandboxId: string;
  metadata: { name: string; attempt: number };
  /** See state.ts; changed only by ContainerStore.transition. */
  state: ContainerState;
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
}
