/**
 * The second half of a removal, after the record is gone: the monitor's
 * socket link and exit file, the runtime's
 * state (`runc delete --force`, which also removes the cgroup), the cgroup
 * when the runtime did not know it, the rootfs overlay (umount), the bundle
 * and, last, the writable layer (into the trash). These are two host
 * processes (runc, umount), tens of milliseconds on a loaded machine, so
 * RemoveContainer runs them in the background (pending-releases.ts) as
 * containerd does (its exit handler deletes the task, its garbage collector
 * the snapshot): the call answers once the monitor is gone and the row
 * deleted, so the container is no longer listed and its name is free.
 *
 * Crash safety: the row goes first, the bundle directory stays until its
 * rootfs is unmounted and the writable layer goes last, so a crash at any
 * point leaves files without a record, which the next start's recovery
 * removes with the same steps (recover.ts). A failed step is logged and
 * leaves the same leftovers for recovery. A pod's removal waits for its
 * containers' releases (Sandboxes.remove), so the pod's cgroup and
 * namespaces go after them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachSocketDir, removeExitFiles } from '../../conmon/driver';
import { mountedOver } from '../../common/host/mounts';
import { removeContainerCgroup } from '../sandbox/cgroups';
import { ContainerDeps, runtimeFor } from './deps';
import { unmountRootfs } from './rootfs';

/** What a release needs of the removed container's record. */
export interface ReleasedContainer {
  id: string;
  sandboxId: string;
  runtimeHandler: string;
  cgroupsPath: string;
  rootfs: string;
  bundle: string;
}

/**
 * Releases what a removed container held on the host, in the order of the
 * module doc; each step is idempotent, so running it again (recovery) is safe.
 * @throws the first failing step's error (what is left stays for recovery)
 */
export async function releaseContainer(deps: ContainerDeps, rec: ReleasedContainer): Promise<void> {
  // Its socket link and exit file (the monitor that wrote them is gone), and
  // every file delete below, off the event loop: each unlink or rmdir takes
  // milliseconds on a loaded host (--cpu-prof of the container bench), which
  // every concurrent call waited for.
  // (with the temp of an exit file whose write the monitor's kill cut short).
  await Promise.all([fs.promises.rm(attachSocketDir(deps.dirs.sockets, rec.id), { recursive: true, force: true }), removeExitFiles(deps.dirs.exits, rec.id)]);
  await runtimeFor(deps, rec.runtimeHandler).delete(rec.id);
  await removeContainerCgroup(deps.opts.cgroupDriver, rec.cgroupsPath);
  await unmountRootfs(rec.rootfs);
  // A rootfs still mounted keeps its bundle: the next start's recovery unmounts and removes what has no record.
  if (mountedOver(rec.rootfs)) throw new Error(`the rootfs of removed container ${rec.id} is still mounted`);
  // On libuv's threads, not the event loop: a release runs beside the calls that follow RemoveContainer (unlinks of the bundle's files cost ~2 ms there).
  await fs.promises.rm(rec.bundle, { recursive: true, force: true });
  deps.trash.discard(path.join(deps.dirs.state, rec.id));
}

/**
 * The runtime's state and cgroup of a container whose bundle was left
 * without a record (a release or rollback cut short by a crash): `delete
 * --force` under every configured runtime (the record named the handler;
 * an unknown ID is no error), and the cgroup the bundle's config.json names.
 * For recovery; failures are logged.
 */
export async function releaseRuntimeLeftovers(deps: ContainerDeps, id: string): Promise<void> {
  const bundle = path.join(deps.dirs.bundles, id);
  if (!fs.existsSync(bundle)) return;
  for (const name of Object.keys(deps.opts.runtimes)) {
    await runtimeFor(deps, name)
      .delete(id)
      .catch((err: unknown) => deps.opts.log.warn({ id, runtime: name, err }, 'runtime delete of a container without a record failed'));
  }
  const cgroupsPath = specCgroupsPath(path.join(bundle, 'config.json'));
  if (cgroupsPath) await removeContainerCgroup(deps.opts.cgroupDriver, cgroupsPath).catch((err: unknown) => deps.opts.log.warn({ id, err }, 'removing the cgroup of a container without a record failed'));
}

/** linux.cgroupsPath of an OCI runtime spec file, or undefined when unreadable. */
function specCgroupsPath(file: string): string | undefined {
  try {
    const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as { linux?: { cgroupsPath?: unknown } };
    return typeof spec.linux?.cgroupsPath === 'string' ? spec.linux.cgroupsPath : undefined;
  } catch {
    return undefined;
  }
}
