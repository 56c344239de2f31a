/**
 * Extra trusted CA certificates whose loading was deferred from Node's
 * start to the first TLS connection that needs them.
 *
 * Node reads `NODE_EXTRA_CA_CERTS` while it starts, before any JavaScript:
 * it builds the whole root store (the ~140 bundled roots, parsed) and adds
 * the file's certificates. On the peapod machines the variable names
 * Debian's 220 KB bundle, and that costs every Node process ~40 ms of CPU
 * (`node -e 0`: 57 against 15 ms of user CPU, hyperfine -N, 30 runs each),
 * more than the rest of Node's start. A CLI command that speaks no TLS
 * (`run`, `exec`, `ps`, …) never uses it. So the CLI's launcher (bin/peapod)
 * moves the variable aside, to `PEAPOD_EXTRA_CA_CERTS`, and the registry
 * client passes these certificates with the bundled roots as its TLS `ca`
 * when it connects: the same trust as Node's own handling (the bundled roots
 * extended by the file), paid only by `pull`, `login` and the like.
 *
 * As Node does, a file that cannot be read or holds no certificate gives one
 * warning and is ignored. Bounds: the file is read up to
 * MAX_EXTRA_CA_FILE_BYTES.
 */
import * as fs from 'node:fs';

/** The environment variable bin/peapod moves `NODE_EXTRA_CA_CERTS` to. */
export const DEFERRED_EXTRA_CA_ENV = 'PEAPOD_EXTRA_CA_CERTS';
/** Most bytes read of the file (Debian's full bundle is 220 KB). */
export const MAX_EXTRA_CA_FILE_BYTES = 8 << 20;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

let cached: { file: string; ca: string[] | undefined } | undefined;

/**
 * The `ca` list for a TLS connection when extra CA certificates were
 * deferred (`PEAPOD_EXTRA_CA_CERTS` names a PEM file): Node's bundled roots
 * followed by the file's certificates. Undefined when nothing was deferred,
 * or when the file is unreadable, too large or has no PEM certificate (then
 * `warn` is called once per file with the reason; the default trust stays).
 * The file is read once per process (synchronously: a few hundred KB, only by
 * a client that is about to connect).
 * @param env the environment to read (default process.env)
 */
export function deferredExtraCa(env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = (m) => process.emitWarning(m)): string[] | undefined {
  const file = env[DEFERRED_EXTRA_CA_ENV];
  if (!file) return undefined;
  if (cached?.file === file) return cached.ca;
  let ca: string[] | undefined;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_EXTRA_CA_FILE_BYTES) throw new Error(`it has ${size} bytes, more than ${MAX_EXTRA_CA_FILE_BYTES}`);
    const certs = fs.readFileSync(file, 'latin1').match(PEM_CERT);
    if (!certs) throw new Error('it holds no PEM certificate');
    // node:tls only here: envDeferringExtraCa's callers speak no TLS.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tls = require('node:tls') as typeof import('node:tls');
    ca = [...tls.rootCertificates, ...certs];
  } catch (err) {
    warn(`Ignoring extra certs from \`${file}\` (${DEFERRED_EXTRA_CA_ENV}, NODE_EXTRA_CA_CERTS moved aside by bin/peapod): ${(err as Error).message}`);
  }
  cached = { file, ca };
  return ca;
}

/**
 * The environment for a Node process peapod starts itself (the CLI again):
 * `env` without `NODE_EXTRA_CA_CERTS` when it is the deferred file, so that
 * the child defers it too instead of paying for it at its start.
 */
export function envDeferringExtraCa(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const deferred = env[DEFERRED_EXTRA_CA_ENV];
  if (!deferred || env.NODE_EXTRA_CA_CERTS !== deferred) return env;
  const out = { ...env };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}
