/**
 * Finding host programs before running them, so that a missing tool is
 * reported by name (and with the Debian package that has it) instead of as
 * a bare ENOENT from spawn.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The absolute path of an executable program: `name` itself when it holds a
 * `/`, else the first executable file of that name in the directories of
 * `pathEnv` (PATH's syntax, `:`-separated; empty entries are skipped).
 * @returns the path, or undefined when there is none.
 */
export function findProgram(name: string, pathEnv: string = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/') ? [name] : pathEnv.split(':').filter((d) => d !== '').map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (!st.isFile()) continue;
      fs.accessSync(c, fs.constants.X_OK);
      return path.resolve(c);
    } catch {
      // not here
    }
  }
  return undefined;
}
