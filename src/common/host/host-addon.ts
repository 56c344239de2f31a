/**
 * peapod's Node-API addon (native/host-addon.c, built by
 * scripts/build-native.sh into dist/native/peapod-host.node): syncfs(2),
 * malloc_trim(3) and lgetxattr(2), which Node does not offer. The build makes it only where
 * Node's headers are; without it `syncfs` answers false (the caller syncs
 * another way) and `trimMallocHeap` does nothing. Loaded on first use, once
 * per thread (the layer worker threads load their own).
 */
import * as path from 'node:path';

/** Where the build puts the addon: `dist/native/peapod-host.node`. */
export const HOST_ADDON = path.resolve(__dirname, '..', '..', '..', 'native', 'peapod-host.node');

interface HostAddon {
  syncfs(fd: number): void;
  mallocTrim(): Promise<boolean>;
  lgetxattr(file: string, name: string): Buffer | null;
}

let addon: HostAddon | null | undefined;

function load(): HostAddon | null {
  if (addon !== undefined) return addon;
  try {
    const m = { exports: {} as HostAddon };
    process.dlopen(m, HOST_ADDON);
    addon = m.exports;
  } catch {
    addon = null; // not built here (no compiler or no Node headers)
  }
  return addon;
}

/** Whether the addon is built and loads. */
export function hostAddonLoaded(): boolean {
  return load() !== null;
}

/**
 * syncfs(2) of the filesystem holding the open file or directory `fd`:
 * waits until everything written on it is on disk. Blocks the calling
 * thread (for worker threads, never the event loop).
 * @returns true when synced, false when the addon is not built (nothing was done).
 * @throws an Error with the errno name as `code` (EBADF, EIO, ...) when syncfs fails.
 */
export function syncfs(fd: number): boolean {
  const a = load();
  if (!a) return false;
  a.syncfs(fd);
  return true;
}

/**
 * malloc_trim(0) on a thread of libuv's pool: gives the kernel back the
 * free pages of every glibc malloc arena (glibc itself returns only the top
 * of each heap, so memory freed below a live allocation stays resident).
 * @returns whether memory was released; false too when the addon is not built.
 */
export async function trimMallocHeap(): Promise<boolean> {
  const a = load();
  return a ? a.mallocTrim() : false;
}

/**
 * lgetxattr(2) of `file` (a final symlink is not followed): the extended
 * attribute `name`'s value (at most 4 KiB), null when the file has none of
 * that name or its file system no attributes. Synchronous: one system call
 * on an inode the caller has just looked up.
 * @returns undefined when the addon is not built (the caller must do without).
 * @throws an Error with the errno name as `code` (ENOENT, ERANGE for a value over 4 KiB, ...).
 */
export function lgetxattr(file: string, name: string): Buffer | null | undefined {
  const a = load();
  return a && typeof a.lgetxattr === 'function' ? a.lgetxattr(file, name) : undefined;
}
