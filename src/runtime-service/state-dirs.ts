/**
 * The modes of peapod's state directories, set at the start of each front
 * end (openPeapod) on what exists already, not only on what it creates:
 * other host users must not reach container bundles, their config.json
 * (every env var, so Kubernetes Secrets), the databases, the rootfs mounts
 * and the writable layers (a setuid-root program or a device node a
 * container made there would be theirs to run or open: containerd
 * CVE-2021-41103, Moby CVE-2021-41091). docs/security.md lists who can read
 * what.
 *
 *   <root>                 0700  (containerd chmods its root to 0700 at every start too)
 *     state.db[-wal,-shm]  0600  (state-db.ts)
 *     containers/, sandboxes/, storage/ and each entry   0700
 *   <runroot>              0710  (see RUNROOT_MODE)
 *     containers/, containers-exits/, containers-sockets/, sandboxes/,
 *     runtime roots (runc/) and each container's bundle   0700
 *     <bundle>/config.json 0600
 *
 * Below those, files keep the modes their users need and no host user can
 * reach them: the upper dir of a container and the layers' diff/ dirs keep
 * the image's modes (the container's / takes the upper dir's), and a pod's
 * hosts, hostname and resolv.conf stay 0644 for a container's non-root user.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PeapodConfig } from '../common/config';
import { ensurePrivateDir, PRIVATE_DIR_MODE, restrictFiles } from '../common/host/private-paths';
import { containerDirs } from './container/paths';
import { sandboxesRunDir, sandboxesStateDir } from './sandbox/paths';

/**
 * Mode of the runroot: owner all, group search only. The CRI socket lives
 * in it by default (/run/peapod/peapod.sock, mode 0660: owner and group may
 * connect), and connecting needs search permission on its directory; no
 * one but the owner may list it, and every entry in it is 0700. Other users
 * get nothing: they may not connect to the socket anyway. (containerd keeps
 * its state directory 0711 for user-namespaced containers, whose remapped
 * root must traverse to its rootfs; peapod runs none: a pod's user
 * namespace mode must be NODE.)
 */
export const RUNROOT_MODE = 0o710;

/** The entries of a directory; [] when it does not exist. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** chmod that ignores an entry removed meanwhile (another process on the root may remove one). */
function chmodIfPresent(p: string, mode: number): void {
  restrictFiles([p], mode);
}

/**
 * Sets the modes of peapod's directories (see the module doc), making the
 * fixed ones when missing, of the databases, and of the bundles, state and run
 * directories of every container and pod found (one directory listing each,
 * never a walk of a tree). Cheap enough for every start: a few syscalls per
 * container.
 * @throws Error when root or runroot is owned by another user; the fs error
 *   when a directory cannot be made or changed.
 */
export function securePeapodDirs(config: Pick<PeapodConfig, 'root' | 'runroot' | 'runtime'>): void {
  const root = path.resolve(config.root);
  const runroot = path.resolve(config.runroot);
  ensurePrivateDir(root);
  ensurePrivateDir(runroot, RUNROOT_MODE);
  const c = containerDirs(root, runroot);
  // image-service's storageRoot, not imported: its module loads the puller and the HTTP client, which no CLI command should pay for.
  const storage = path.join(root, 'storage');
  for (const d of [c.state, c.bundles, c.exits, c.sockets, sandboxesStateDir(root), sandboxesRunDir(runroot), storage]) ensurePrivateDir(d);
  // The databases, also when this start opens neither (state-db.ts and the image store set them when they open them).
  const dbs = [path.join(root, 'state.db'), path.join(storage, 'images.db')];
  restrictFiles(dbs.flatMap((f) => [f, `${f}-wal`, `${f}-shm`]));
  for (const handler of Object.values(config.runtime.runtimes)) {
    const rt = path.resolve(handler.runtime_root || path.join(runroot, 'runc'));
    if (rt.startsWith(runroot + path.sep)) ensurePrivateDir(rt);
  }
  // What an older peapod made with wider modes (parents are 0700 already: this is depth, not the barrier).
  for (const id of entries(c.bundles)) {
    chmodIfPresent(path.join(c.bundles, id), PRIVATE_DIR_MODE);
    restrictFiles([path.join(c.bundles, id, 'config.json')]);
  }
  for (const id of entries(c.state)) chmodIfPresent(path.join(c.state, id), PRIVATE_DIR_MODE);
  for (const id of entries(sandboxesStateDir(root))) {
    chmodIfPresent(path.join(sandboxesStateDir(root), id), PRIVATE_DIR_MODE);
    restrictFiles([path.join(sandboxesStateDir(root), id, 'cni.json')]);
  }
  for (const id of entries(sandboxesRunDir(runroot))) chmodIfPresent(path.join(sandboxesRunDir(runroot), id), PRIVATE_DIR_MODE);
}
