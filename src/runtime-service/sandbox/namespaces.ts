import * as fs from 'node:fs';
import { runHostCommand } from '../../common/host/command';
import { unmountAll } from '../../common/host/mounts';

/** statfs f_type of nsfs, the filesystem of namespace files (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

/** The namespaces a sandbox may pin on files. */
export interface NamespacePins {
  net?: string;
  ipc?: string;
  uts?: string;
}

/**
 * Creates new network, IPC and/or UTS namespaces and pins each on a
 * bind-mounted file, without any process left in them (what CRI-O's pinns
 * does): `unshare --net=FILE --ipc=FILE --uts=FILE true`.
 * @param pins the files to pin on (created empty first); only the keys
 *   given are created
 * @throws HostCommandError when unshare fails; pins already made are not
 *   removed (the caller's rollback calls removeNamespacePin).
 */
export async function createPinnedNamespaces(pins: NamespacePins): Promise<void> {
  const args: string[] = [];
  for (const [kind, file] of Object.entries(pins) as Array<[string, string | undefined]>) {
    if (!file) continue;
    fs.writeFileSync(file, '', { mode: 0o444 });
    args.push(`--${kind}=${file}`);
  }
  if (args.length === 0) return;
  await runHostCommand('unshare', [...args, 'true']);
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

/**
 * Sets the hostname inside a pinned UTS namespace:
 * `nsenter --uts=FILE hostname NAME`.
 * @throws HostCommandError when it fails.
 */
export async function setNamespaceHostname(utsPin: string, hostname: string): Promise<void> {
  await runHostCommand('nsenter', [`--uts=${utsPin}`, 'hostname', hostname]);
}

/**
 * Brings the loopback interface up inside a pinned network namespace
 * (containerd runs the loopback plugin for this; peapod uses iproute2).
 * @throws HostCommandError when it fails.
 */
export async function bringUpLoopback(netPin: string): Promise<void> {
  await runHostCommand('nsenter', [`--net=${netPin}`, 'ip', 'link', 'set', 'lo', 'up']);
}
