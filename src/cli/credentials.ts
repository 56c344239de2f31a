/**
 * The registry credentials a CLI command uses: `--creds USER:PASSWORD`, else
 * the entry of the auth files (see config.ts authFiles) for the repository
 * or its registry.
 */
import type { RegistryCredentials } from '../image-service/registry-client';
import { authFiles } from './config';
import { CliError } from './errors';

/**
 * Parses `--creds`: `USER:PASSWORD` (the password may contain colons) or `USER`.
 * @throws CliError (125) for an empty user name.
 */
export function parseCreds(creds: string): RegistryCredentials {
  const i = creds.indexOf(':');
  const username = i < 0 ? creds : creds.slice(0, i);
  if (!username) throw new CliError('--creds: the user name is empty (expected USER:PASSWORD)');
  return { username, password: i < 0 ? '' : creds.slice(i + 1) };
}

/**
 * Credentials for pulling `repository` (`domain/path`): `--creds` when
 * given, else the auth files' entry, else none (anonymous).
 * @throws CliError (125) for an unreadable auth file.
 */
export function credentialsFor(repository: string, flags: { authfile?: string; creds?: string }): RegistryCredentials | undefined {
  if (flags.creds !== undefined) return parseCreds(flags.creds);
  const { findCredentials, AuthFileError } = require('../image-service/auth-file') as typeof import('../image-service/auth-file');
  const files = authFiles(flags.authfile);
  try {
    return findCredentials([{ path: files.primary }, ...files.fallbacks.map((f) => ({ path: f.path, legacy: f.legacy }))], repository)?.credentials;
  } catch (err) {
    if (err instanceof AuthFileError) throw new CliError(err.message);
    throw err;
  }
}
