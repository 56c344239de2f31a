/**
 * Compiles the small static C programs that stand in for executables of
 * critest's images (scripts/critest/fixtures/*.c) with Debian's gcc:
 * `gcc -static -O2`. Needs the Debian packages gcc and libc6-dev.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Directory of the C sources (in the repository, next to this script's source). */
export const FIXTURE_SOURCES_DIR = path.resolve(__dirname, '..', '..', '..', 'scripts', 'critest', 'fixtures');

/** The programs, by name; each is built from `<name>.c`. */
export const PROGRAM_NAMES = ['nginx', 'httpd', 'nnp', 'pause', 'pgrep', 'ipcs'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];

/** Paths of the built programs, by name. */
export type Programs = Record<ProgramName, string>;

/**
 * Builds every program into `outDir` (created if needed).
 * @returns the path of each binary
 * @throws Error naming the program and carrying gcc's output when a build fails,
 *   or saying which Debian packages to install when gcc is missing
 */
export function buildPrograms(outDir: string, sourcesDir = FIXTURE_SOURCES_DIR): Programs {
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error || gcc.status !== 0) throw new Error('gcc not found: install the Debian packages gcc and libc6-dev (apt-get install -y gcc libc6-dev)');
  fs.mkdirSync(outDir, { recursive: true });
  const out = {} as Programs;
  for (const name of PROGRAM_NAMES) {
    const src = path.join(sourcesDir, `${name}.c`);
    const bin = path.join(outDir, name);
    try {
      execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', bin, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      throw new Error(`building ${name} from ${src} failed:\n${e.stderr?.toString() ?? String(err)}`);
    }
    out[name] = bin;
  }
  return out;
}
