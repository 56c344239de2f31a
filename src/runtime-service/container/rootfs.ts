import * as fs from 'node:fs';
import { runHostCommand } from '../../common/host/command';
import { unmountAll } from '../../common/host/mounts';

/** The image layers a container's rootfs stacks, as the image store hands them out. */
export interface LayerStack {
  /** Directory the short link names are relative to (the mount runs with this cwd). */
  linkDir: string;
  /** Lower directories, TOP-MOST first, relative to linkDir (or absolute). */
  lowers: string[];
}

/**
 * Mounts an overlayfs at `target`: the image's layers read-only below, the
 * container's own `upperDir`/`workDir` above (created when missing).
 * The lower dirs are passed relative to `linkDir` (short link names), with
 * the mount command run in linkDir, so that 100+ layers fit in the one page
 * of mount options.
 *
 * @throws HostCommandError with mount's message when the kernel refuses.
 */
export async function mountRootfs(layers: LayerStack, upperDir: string, workDir: string, target: string): Promise<void> {
  if (layers.lowers.length === 0) throw new Error('image has no layers');
  fs.mkdirSync(upperDir, { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  fs.mkdirSync(target, { recursive: true });
  // overlayfs needs two lowers or an upper; one lower plus upper is fine.
  const opts = `lowerdir=${layers.lowers.join(':')},upperdir=${upperDir},workdir=${workDir}`;
  await runHostCommand('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], { cwd: layers.linkDir, timeoutMs: 60_000 });
}

/** Unmounts the rootfs when mounted (lazily if busy). Safe to call twice. */
export async function unmountRootfs(target: string): Promise<void> {
  await unmountAll(target, { lazy: true });
}
