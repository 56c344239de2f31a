import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The image layers a container's rootfs stacks, as the image store hands them out. */
export interface LayerStack {
  /** Directory the short link names are relative to (the mount runs with this cwd). */
  linkDir: string;
  /** Lower directories, TOP-MOST first, relative to linkDir (or absolute). */
  lowers: string[];
}

function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

/**
 * Mounts an overlayfs at `target`: the image's layers read-only below, the
 * container's own `upperDir`/`workDir` above (created when missing).
 * The lower dirs are passed relative to `linkDir` (short link names), with
 * the mount command run in linkDir, so that 100+ layers fit in the one page
 * of mount options.
 *
 * @throws Error with mount's message when the kernel refuses.
 */
export async function mountRootfs(layers: LayerStack, upperDir: string, workDir: string, target: string): Promise<void> {
  if (layers.lowers.length === 0) throw new Error('image has no layers');
  fs.mkdirSync(upperDir, { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  fs.mkdirSync(target, { recursive: true });
  // overlayfs needs two lowers or an upper; one lower plus upper is fine.
  const opts = `lowerdir=${layers.lowers.join(':')},upperdir=${upperDir},workdir=${workDir}`;
  await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], layers.linkDir);
}

/** Whether `dir` is a mount point (listed in /proc/self/mountinfo). */
export function isMountPoint(dir: string): boolean {
  const want = path.resolve(dir);
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[4] && f[4].replace(/\\040/g, ' ') === want) return true;
    }
  } catch {
    /* no procfs: assume not */
  }
  return false;
}

/** Unmounts the rootfs when mounted (lazily if busy). Safe to call twice. */
export async function unmountRootfs(target: string): Promise<void> {
  while (isMountPoint(target)) {
    try {
      await run('umount', [target]);
    } catch {
      await run('umount', ['-l', target]);
    }
  }
}
