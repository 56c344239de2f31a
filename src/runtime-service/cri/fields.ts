import { PeapodError, withFieldPath } from '../../common/errors';

/** Maps a domain field (e.g. `mounts[0].hostPath`) to the CRI field path it came from, when known. */
export type CriFieldPaths = (field: string) => string | undefined;

/**
 * An error of a domain call with the CRI field path put in front of its
 * message, so a CRI client sees which of its fields is at fault (e.g.
 * `config.linux.security_context.run_as_username: user "bob" not found in
 * the image's /etc/passwd`). Errors without a field, or with one the
 * translation does not know, are returned unchanged.
 */
export function withCriField(err: unknown, paths: CriFieldPaths): unknown {
  if (!(err instanceof PeapodError) || err.field === undefined) return err;
  const path = paths(err.field);
  return path === undefined ? err : withFieldPath(err, path);
}

/**
 * Runs a domain call, rewriting its errors with `withCriField`.
 * @returns what `fn` returns.
 */
export async function mappingCriFields<T>(paths: CriFieldPaths, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw withCriField(err, paths);
  }
}
