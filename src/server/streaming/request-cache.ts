import { randomBytes } from 'node:crypto';
import { ResourceExhaustedError } from '../../common/errors';

/** How long a token stays valid (ms): the kubelet's streaming server uses one minute. */
export const TOKEN_TTL_MS = 60_000;
/** Most tokens outstanding at once: the kubelet's streaming server allows 1000. */
export const MAX_IN_FLIGHT = 1000;

/**
 * The requests handed out as streaming URLs, keyed by a random single-use
 * token (16 random bytes, base64url).
 */
export class RequestCache<T> {
  private readonly entries = new Map<string, { request: T; expires: number }>();

  /**
   * @param ttlMs lifetime of a token (ms)
   * @param maxInFlight most tokens outstanding
   * @param now the clock (ms since the epoch), replaceable in tests
   */
  constructor(
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly maxInFlight = MAX_IN_FLIGHT,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores a request and returns its token.
   * @throws ResourceExhaustedError when `maxInFlight` unexpired tokens exist.
   */
  insert(request: T): string {
    this.evictExpired();
    if (this.entries.size >= this.maxInFlight) {
      throw new ResourceExhaustedError(`maximum number of in-flight streaming requests (${this.maxInFlight}) exceeded`);
    }
    let token: string;
    do token = randomBytes(16).toString('base64url');
    while (this.entries.has(token));
    this.entries.set(token, { request, expires: this.now() + this.ttlMs });
    return token;
  }

  /** Takes the request of a token out of the cache; undefined when unknown or expired. */
  consume(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.request : undefined;
  }

  /** Number of tokens stored (expired ones included until the next insert). */
  get size(): number {
    return this.entries.size;
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) if (entry.expires <= now) this.entries.delete(token);
  }
}
