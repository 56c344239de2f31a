/**
 * Freezes an object and everything reachable from it (plain data: objects
 * and arrays), so a value shared between callers (a cache entry) cannot be
 * changed by one of them: a write throws in strict mode.
 * @returns `o` itself, frozen.
 */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
