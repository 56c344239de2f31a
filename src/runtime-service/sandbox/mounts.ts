import * as fs from 'node:fs';
import { runMount } from '../../common/host/mount-program';

/**
 * Mounts a tmpfs for a pod's /dev/shm at `target` (created if missing):
 * mode 1777, nosuid, nodev, noexec, as the kubelet and CRI-O do.
 * @param sizeBytes the size limit in bytes
 * @throws HostCommandError when mount fails.
 */
export async function mountShm(target: string, sizeBytes: number): Promise<void> {
  fs.mkdirSync(target, { recursive: true, mode: 0o755 });
  await runMount(shmMountArgs(target, sizeBytes));
}

/** mount(8)'s arguments for a pod's /dev/shm tmpfs at `target` (see mountShm). */
export function shmMountArgs(target: string, sizeBytes: number): string[] {
  return ['-t', 'tmpfs', '-o', `mode=1777,nosuid,nodev,noexec,size=${sizeBytes}`, 'shm', target];
}
