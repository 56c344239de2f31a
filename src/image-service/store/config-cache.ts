/**
 * Parsed image configs by image ID, bounded by the bytes of their JSON and
 * evicted least recently used first. An image ID is the digest of its
 * config, so an entry never goes stale: the same ID always has the same
 * config, whichever process stored it. Entries are deep-frozen: callers
 * share them and must not change them.
 */
import { deepFreeze } from '../../common/deep-freeze';
import type { OciImageConfig } from './image-store';

/** An LRU of parsed configs; see the file comment. */
export class ConfigCache {
  private readonly entries = new Map<string, { config: OciImageConfig; bytes: number }>();
  private bytes = 0;

  /** @param maxBytes most JSON bytes held (default 32 MiB: 8 configs of the 4 MiB maximum, thousands of real ones) */
  constructor(private readonly maxBytes = 32 << 20) {}

  /**
   * The parsed config of `id`, from the cache or by parsing what `load()`
   * returns (only on a miss).
   * @throws SyntaxError when the stored JSON does not parse.
   */
  get(id: string, load: () => string): OciImageConfig {
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit.config;
    }
    const json = load();
    const config = deepFreeze(JSON.parse(json) as OciImageConfig);
    const bytes = json.length;
    if (bytes <= this.maxBytes) {
      this.entries.set(id, { config, bytes });
      this.bytes += bytes;
      for (const [k, v] of this.entries) {
        if (this.bytes <= this.maxBytes) break;
        this.entries.delete(k);
        this.bytes -= v.bytes;
      }
    }
    return config;
  }

  /** Drops `id` (its image was removed). */
  delete(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.bytes -= e.bytes;
  }
}
