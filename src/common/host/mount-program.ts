/**
 * The program peapod mounts and unmounts with: its own `peapod-mount`
 * (native/mount.c, built into dist/native/), which makes the one mount(2)
 * or umount2(2) call, or util-linux's mount(8) and umount(8) where the build
 * made no helper (no C compiler).
 *
 * Why: mount(8) and umount(8) load libmount and read fstab, mountinfo and
 * utab before their system call: 3-5 ms of a process each (on this 2-CPU
 * machine under load; the overlay mount(2) itself takes 1.4 ms, a bind
 * remount 0.04 ms). A container's creation mounts twice in series on its
 * critical path (the rootfs, then the host view's nosuid,nodev remount);
 * a pod's removal and a container's release unmount too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand, RunHostCommandOptions } from './command';

/** Where the build puts the helper: `dist/native/peapod-mount`. */
export const MOUNT_BINARY = path.resolve(__dirname, '..', '..', '..', 'native', 'peapod-mount');

let helperPresent: boolean | undefined;

/** Whether peapod-mount is there (looked up once). */
function helper(): boolean {
  helperPresent ??= fs.existsSync(MOUNT_BINARY);
  return helperPresent;
}

/**
 * Runs a mount with mount(8)'s arguments, as far as peapod uses them:
 * `[-t TYPE] [-o OPTIONS] [SOURCE] TARGET` (OPTIONS' flag words such as
 * `remount`, `bind`, `nosuid`, the rest passed to the file system; a
 * remount starts from the mount's current flags, as mount(8) does).
 * @param options as runHostCommand's (cwd: where relative paths in the options start)
 * @throws HostCommandError with the kernel's refusal (`peapod-mount: TARGET: <strerror>`, or mount(8)'s message).
 */
export async function runMount(args: readonly string[], options: RunHostCommandOptions = {}): Promise<void> {
  await runHostCommand(helper() ? MOUNT_BINARY : 'mount', args, options);
}

/**
 * Unmounts each of `targets` once, trying all before failing (umount(8)'s
 * behaviour with several targets).
 * @param lazy detach busy mounts (MNT_DETACH, `umount -l`)
 * @throws HostCommandError naming the targets that could not be unmounted.
 */
export async function runUmount(targets: readonly string[], lazy = false): Promise<void> {
  const flags = lazy ? ['-l'] : [];
  if (helper()) await runHostCommand(MOUNT_BINARY, ['--umount', ...flags, ...targets]);
  else await runHostCommand('umount', [...flags, ...targets]);
}
