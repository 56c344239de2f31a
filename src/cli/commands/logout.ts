/**
 * `peapod logout REGISTRY` / `logout --all`: removes stored credentials from
 * the auth file (containers-auth.json), as `podman logout` does.
 */
import type { CliContext } from '../context';
import { authFiles } from '../config';
import { CliError } from '../errors';
import { registryKey } from '../registry-key';

/** Runs `logout`. @throws CliError (125) when not logged in or the auth file cannot be written. */
export async function run(ctx: CliContext, args: string[], o: { all?: boolean; authfile?: string }): Promise<number> {
  const auth = require('../../image-service/auth-file') as typeof import('../../image-service/auth-file');
  const files = authFiles(o.authfile);
  try {
    if (o.all) {
      if (args.length) throw new CliError('--all takes no registry');
      auth.removeAllCredentials(files.primary);
      ctx.io.stdout.write('Removed login credentials for all registries\n');
      return 0;
    }
    if (args.length !== 1) throw new CliError('logout needs a registry (or --all)');
    const { key } = registryKey(args[0]);
    if (!auth.removeCredentials(files.primary, key)) {
      const elsewhere = files.fallbacks.length ? auth.findCredentials(files.fallbacks, key) : undefined;
      throw new CliError(elsewhere ? `not logged into ${key} in ${files.primary}; credentials for it are in ${elsewhere.file} (remove them with the tool that wrote them)` : `not logged into ${key}`);
    }
    ctx.io.stdout.write(`Removed login credentials for ${key}\n`);
    return 0;
  } catch (err) {
    if (err instanceof auth.AuthFileError) throw new CliError(err.message);
    throw err;
  }
}
