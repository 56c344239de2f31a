/**
 * The registry a `login`/`logout` argument names: `host[:port]` with an
 * optional repository path, a scheme and trailing slash dropped
 * (`https://quay.io/` → `quay.io`), `index.docker.io` → `docker.io`.
 */
import { CliError } from './errors';
import { quoteInput } from '../common/bounded-text';

/** The normalized key and its host. @throws CliError (125) for an empty or malformed name. */
export function registryKey(arg: string): { key: string; host: string } {
  let key = arg.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (key.startsWith('index.docker.io') || key.startsWith('registry-1.docker.io')) key = `docker.io${key.slice(key.indexOf('.io') + 3)}`;
  if (key.endsWith('/v1') || key.endsWith('/v2')) key = key.slice(0, -3);
  if (!key || /\s/.test(key) || key.includes('@')) throw new CliError(`${quoteInput(arg)} is not a registry name (host[:port][/namespace])`);
  return { key, host: key.split('/')[0] };
}
