import { HostCommandError, runHostCommand } from '../../common/host/command';
import { nowNs } from '../../common/time';

/** Bytes and inodes of a writable layer, and when they were measured (ns since the epoch; 0 = never). */
export interface LayerUsage {
  usedBytes: bigint;
  inodesUsed: bigint;
  measuredAtNs: bigint;
}

/** Where measurement failures go (pino-compatible). */
interface UsageLog {
  warn(obj: object, msg?: string): void;
}

/** How long one `du` of a layer may take, in ms. */
const DU_TIMEOUT_MS = 5 * 60_000;

/**
 * The disk usage of containers' writable layers, measured in the background
 * and cached, as containerd's CRI does (its snapshot syncer measures every
 * `stats_collect_period`, 10 s by default): a request gets the last
 * measurement at once and never waits for a tree walk. A layer asked about
 * is measured when it has no measurement yet or its last one is older than
 * `maxAgeMs`; measurements run one at a time, each by GNU du (allocated
 * bytes, inodes; hard links once; one filesystem), outside this process.
 */
export class WritableLayerUsage {
  private readonly cache = new Map<string, LayerUsage>();
  private readonly queued = new Map<string, string>();
  private running: Promise<void> | undefined;

  /**
   * @param maxAgeMs a measurement older than this is renewed when asked for
   * @param log where failed measurements are reported
   */
  constructor(
    private readonly maxAgeMs = 10_000,
    private readonly log?: UsageLog,
  ) {}

  /**
   * The last measurement of container `id`'s writable layer `dir` (zeros
   * with `measuredAtNs` 0 before the first has finished); a new one is
   * started in the background when due.
   */
  get(id: string, dir: string): LayerUsage {
    const last = this.cache.get(id);
    if (!last || nowNs() - last.measuredAtNs > BigInt(this.maxAgeMs) * 1_000_000n) this.schedule(id, dir);
    return last ?? { usedBytes: 0n, inodesUsed: 0n, measuredAtNs: 0n };
  }

  /** Forgets a container (removed): its measurement and any queued one. */
  forget(id: string): void {
    this.cache.delete(id);
    this.queued.delete(id);
  }

  /** Resolves once no measurement is queued or running. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(id: string, dir: string): void {
    if (this.queued.has(id)) return;
    this.queued.set(id, dir);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    for (let next = this.queued.entries().next(); !next.done; next = this.queued.entries().next()) {
      const [id, dir] = next.value;
      try {
        const usage = await measure(dir);
        // Removed meanwhile: not kept.
        if (this.queued.get(id) === dir) this.cache.set(id, usage);
      } catch (err) {
        if (this.queued.has(id)) this.log?.warn({ err, id }, 'measuring a writable layer failed');
      }
      this.queued.delete(id);
    }
  }
}

/** The first number du prints. */
function firstNumber(out: string): bigint {
  const m = /^(\d+)/.exec(out.trim());
  if (!m) throw new Error(`du printed ${JSON.stringify(out.slice(0, 100))}`);
  return BigInt(m[1]);
}

/**
 * `du -s -x ARGS DIR`'s total. A file that vanished during the walk (a
 * running container changes its layer) makes du exit 1 with the total still
 * printed: that total counts.
 */
async function du(args: string[], dir: string): Promise<bigint> {
  try {
    return firstNumber(await runHostCommand('du', ['-s', '-x', ...args, '--', dir], { timeoutMs: DU_TIMEOUT_MS }));
  } catch (err) {
    if (err instanceof HostCommandError && err.exitCode === 1 && /^\d+/.test(err.stdout.trim())) return firstNumber(err.stdout);
    throw err;
  }
}

/** Measures a tree with du: allocated bytes and inodes, hard links once, without crossing into other filesystems. */
async function measure(dir: string): Promise<LayerUsage> {
  const usedBytes = await du(['-B1'], dir);
  const inodesUsed = await du(['--inodes'], dir);
  return { usedBytes, inodesUsed, measuredAtNs: nowNs() };
}
