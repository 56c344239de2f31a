import * as fs from 'node:fs';
import { runHostCommand } from './host-command';

/** Undoes the octal escapes (\040 for space…) of /proc/self/mountinfo. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The mount points of peapod's mount namespace, from /proc/self/mountinfo
 * (field 5), in mount order.
 */
export function mountPoints(): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountPath(fields[4]));
  }
  return out;
}

/** True when `target` is a mount point (possibly several times over). */
export function isMountPoint(target: string): boolean {
  return mountPoints().includes(target);
}

/**
 * Unmounts `target` until nothing is mounted there; does nothing when it is
 * not a mount point.
 * @throws HostCommandError when umount fails.
 */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 16 && isMountPoint(target); i++) await runHostCommand('umount', [target]);
}

/**
 * Mounts a tmpfs for a pod's /dev/shm at `target` (created if missing):
 * mode 1777, nosuid, nodev, noexec, as the kubelet and CRI-O do.
 * @param sizeBytes the size limit in bytes
 * @throws HostCommandError when mount fails.
 */
export async function mountShm(target: string, sizeBytes: number): Promise<void> {
  fs.mkdirSync(target, { recursive: true, mode: 0o755 });
  await runHostCommand('mount', ['-t', 'tmpfs', '-o', `mode=1777,nosuid,nodev,noexec,size=${sizeBytes}`, 'shm', target]);
}
