/**
 * Disk usage of a directory tree, walked asynchronously (fs.promises, a
 * bounded number of calls in flight) so a store of 200k files never holds
 * up the event loop; the walk itself takes as long as it takes.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** Bytes (allocated blocks) and inodes under a root, the root excluded. */
export interface DiskUsage {
  bytes: number;
  inodes: number;
}

/** Directory reads and lstat calls in flight at once. */
const CONCURRENCY = 16;

/**
 * Walks `root` without following symlinks; entries that vanish during the
 * walk are skipped.
 */
export async function diskUsage(root: string): Promise<DiskUsage> {
  let bytes = 0;
  let inodes = 0;
  const dirs: string[] = [root];
  let active = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (active < CONCURRENCY && dirs.length > 0) {
        const d = dirs.pop()!;
        active++;
        void visit(d).finally(() => {
          active--;
          if (active === 0 && dirs.length === 0) resolve();
          else pump();
        });
      }
      if (active === 0 && dirs.length === 0) resolve();
    };
    const visit = async (d: string): Promise<void> => {
      let names: string[];
      try {
        names = await fsp.readdir(d);
      } catch {
        return;
      }
      for (let i = 0; i < names.length; i += CONCURRENCY) {
        const stats = await Promise.all(names.slice(i, i + CONCURRENCY).map((n) => fsp.lstat(path.join(d, n)).then((st) => ({ n, st }), () => undefined)));
        for (const s of stats) {
          if (!s) continue;
          inodes++;
          bytes += s.st.blocks * 512;
          if (s.st.isDirectory()) dirs.push(path.join(d, s.n));
        }
      }
    };
    pump();
  });
  return { bytes, inodes };
}
