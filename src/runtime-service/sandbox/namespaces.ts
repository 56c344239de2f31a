import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand } from '../../common/host/command';
import { unmountAll } from '../../common/host/mounts';
import { mountShm, shmMountArgs } from './mounts';

/** Where the build puts peapod's pinning program: `dist/native/peapod-pinns` (native/pinns.c). */
export const PINNS_BINARY = path.resolve(__dirname, '..', '..', '..', 'native', 'peapod-pinns');

let pinnsFound: boolean | undefined;

/** Whether peapod-pinns is there (looked up once); without it (no C compiler) pins are made with util-linux's unshare. */
function pinnsPresent(): boolean {
  pinnsFound ??= fs.existsSync(PINNS_BINARY);
  return pinnsFound;
}

/** statfs f_type of nsfs, the filesystem of namespace files (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

/** The namespaces a sandbox may pin on files. */
export interface NamespacePins {
  net?: string;
  ipc?: string;
  uts?: string;
}

/** What is set up inside new pinned namespaces before they are left. */
export interface PinnedSetup {
  /** The hostname of the new UTS namespace (only when a UTS pin is made). */
  hostname?: string;
  /** Bring the loopback interface of the new network namespace up (only when a net pin is made). */
  loopback?: boolean;
  /**
   * The pod's /dev/shm tmpfs to mount (mounts.ts mountShm), in the same
   * host process when pins are made (the mount is in the caller's mount
   * namespace: unshare makes no new one), else on its own.
   */
  shm?: { target: string; sizeBytes: number };
}

/**
 * Creates new network, IPC and/or UTS namespaces and pins each on a
 * bind-mounted file, without any process left in them (what CRI-O's pinns
 * does): `unshare --net=FILE --ipc=FILE --uts=FILE CMD`, where CMD, run
 * inside them, sets the hostname (`hostname NAME`: sethostname(2), which a
 * user namespace's own UTS namespace allows where /proc/sys is not
 * writable) and brings the
 * loopback interface up (`ip link set lo up`; containerd runs the loopback
 * plugin for this) and mounts the pod's /dev/shm, or is `true`. Where the
 * build made it, peapod-pinns (native/pinns.c) does all of it in one process
 * instead: each exec costs a fork, the program's loading and its setup.
 * @param pins the files to pin on (created empty first); only the keys
 *   given are created
 * @param inside what to set up in them (ignored for namespaces not made)
 * @throws HostCommandError when unshare, mount, the hostname or ip fails;
 *   pins already made (and the tmpfs) are not removed (the caller's
 *   rollback calls removeNamespacePin and unmounts /dev/shm).
 */
export async function createPinnedNamespaces(pins: NamespacePins, inside: PinnedSetup = {}): Promise<void> {
  const args: string[] = [];
  const files: string[] = [];
  for (const [kind, file] of Object.entries(pins) as Array<[string, string | undefined]>) {
    if (!file) continue;
    files.push(file);
    args.push(`--${kind}=${file}`);
  }
  if (args.length === 0) {
    if (inside.shm) await mountShm(inside.shm.target, inside.shm.sizeBytes);
    return;
  }
  // The pin files and the /dev/shm mount point at once, on libuv's threads.
  const made = await Promise.allSettled([
    ...files.map((file) => fs.promises.writeFile(file, '', { mode: 0o444 })),
    inside.shm ? fs.promises.mkdir(inside.shm.target, { recursive: true, mode: 0o755 }) : undefined,
  ]);
  for (const r of made) if (r.status === 'rejected') throw r.reason;
  if (pinnsPresent()) {
    // The same steps as the unshare script below, in one process of our own (native/pinns.c): one exec instead of five.
    const hostname = pins.uts ? inside.hostname : undefined;
    if (hostname !== undefined) args.push(`--hostname=${hostname}`);
    if (pins.net && inside.loopback) args.push('--loopback');
    if (inside.shm) args.push(`--shm=${inside.shm.target}`, `--shm-size=${inside.shm.sizeBytes}`);
    await runHostCommand(PINNS_BINARY, args);
    return;
  }
  const steps: string[] = [];
  const hostname = pins.uts ? inside.hostname : undefined;
  // The script's $1 is the hostname, the rest mount's arguments for /dev/shm.
  const shmArgs = inside.shm ? shmMountArgs(inside.shm.target, inside.shm.sizeBytes) : [];
  if (inside.shm) steps.push('h=$1', 'shift', 'mount "$@"');
  // hostname(1) calls sethostname(2), which a user namespace's own UTS namespace allows; /proc/sys/kernel/hostname is not writable there (rootless).
  if (hostname !== undefined) steps.push(inside.shm ? 'hostname "$h"' : 'hostname "$1"');
  if (pins.net && inside.loopback) steps.push('exec ip link set lo up');
  const cmd = steps.length === 0 ? ['true'] : ['sh', '-c', steps.join(' && '), 'peapod-pin', hostname ?? '', ...shmArgs];
  await runHostCommand('unshare', [...args, ...cmd]);
}

/** True when `file` is a namespace file (a live pin or /proc/<pid>/ns/*). */
export function isNamespaceFile(file: string): boolean {
  try {
    return fs.statfsSync(file).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Unmounts a namespace pin and deletes its file; a pin already gone is fine.
 * The namespace itself dies with its last user.
 * @throws HostCommandError when umount fails.
 */
export async function removeNamespacePin(file: string): Promise<void> {
  await unmountAll(file);
  fs.rmSync(file, { force: true });
}
