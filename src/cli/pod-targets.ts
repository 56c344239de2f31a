/**
 * Reading `--pod-id-file` (the pod IDs `pod create --pod-id-file` wrote),
 * for the pod commands that take it.
 */
import * as fs from 'node:fs';
import { CliError, EXIT_ENGINE } from './errors';

/** The largest ID file read (an ID is 64 characters). */
const MAX_ID_FILE_BYTES = 4096;

/**
 * The pods a command names: its arguments, then the ID in each file.
 * @throws CliError (125) naming a file that cannot be read or is too large.
 */
export function podNames(args: string[], idFiles: string[] = []): string[] {
  const out = [...args];
  for (const f of idFiles) {
    try {
      if (fs.statSync(f).size > MAX_ID_FILE_BYTES) throw new CliError(`--pod-id-file ${f}: larger than ${MAX_ID_FILE_BYTES} bytes`, EXIT_ENGINE);
      const id = fs.readFileSync(f, 'utf8').trim();
      if (id) out.push(id);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--pod-id-file ${f}: ${(err as Error).message}`, EXIT_ENGINE);
    }
  }
  return out;
}
