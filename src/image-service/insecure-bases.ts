/**
 * What scheme an insecure registry speaks, as the last probe found it
 * (RegistryClient.base(): https without verification, else plain http),
 * remembered per host for BASE_TTL_MS so that the pulls that follow (the
 * kubelet pulls image after image; critest pulls one image ten times) do
 * not each pay the probe: for a plain-http registry on loopback, a TCP
 * connection and a failed TLS handshake, measured at 3.3 ms of CPU and
 * 16 ms of wall time per pull on a loaded machine (2026-12-02). A request
 * to a remembered base that fails at the connection forgets it
 * (`forget`), so a registry that changes scheme is probed again.
 *
 * Bounded: at most MAX_HOSTS entries (the oldest go first). Per process:
 * each thread has its own (a layer worker gets its base from the pull's
 * client instead).
 */

/** Milliseconds a probe's answer is reused. */
export const BASE_TTL_MS = 60_000;
/** Hosts remembered at most. */
const MAX_HOSTS = 64;

const bases = new Map<string, { url: string; until: number }>();

/** The base URL last probed for `host`, while fresh. */
export function knownInsecureBase(host: string, now = Date.now()): string | undefined {
  const e = bases.get(host);
  if (!e) return undefined;
  if (e.until <= now) {
    bases.delete(host);
    return undefined;
  }
  return e.url;
}

/** Remembers that `host` answered at `url` (`https://host` or `http://host`). */
export function rememberInsecureBase(host: string, url: string, now = Date.now()): void {
  bases.delete(host);
  bases.set(host, { url, until: now + BASE_TTL_MS });
  while (bases.size > MAX_HOSTS) bases.delete(bases.keys().next().value as string);
}

/** Forgets what `host` was found to speak. */
export function forgetInsecureBase(host: string): void {
  bases.delete(host);
}
