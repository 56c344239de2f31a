import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand } from './host/command';
import { ensurePrivateDir } from './host/private-paths';

/** Where a trash reports a deletion that failed (pino-compatible). */
interface TrashLog {
  warn(obj: object, msg?: string): void;
}

/** How long one `rm -rf` may take, in ms. */
const DELETE_TIMEOUT_MS = 10 * 60_000;

/**
 * Deletes directory trees without making anyone wait for it: a tree is
 * renamed into the trash directory (one rename on the same filesystem,
 * atomic, so the name is free at once and a crash leaves either the tree or
 * the trash entry), then deleted by `rm -rf` in the background, one tree at
 * a time, off the event loop. What a crash left in the trash is deleted by
 * `empty()` at the next start.
 */
export class Trash {
  private queue: string[] = [];
  private running: Promise<void> | undefined;

  /**
   * @param dir the trash directory (made when missing, owner only as all of
   *   peapod's state: docs/security.md); it must be on the filesystem of the
   *   trees discarded into it
   */
  constructor(
    readonly dir: string,
    private readonly log?: TrashLog,
  ) {
    ensurePrivateDir(dir);
  }

  /**
   * Moves `tree` into the trash and has it deleted in the background.
   * @returns false when `tree` does not exist.
   * @throws the fs error of a rename that fails otherwise (then nothing moved).
   */
  discard(tree: string): boolean {
    const target = path.join(this.dir, `${path.basename(tree)}-${randomBytes(6).toString('hex')}`);
    try {
      fs.renameSync(tree, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EXDEV') throw err;
      // Another filesystem: deleted in place, still in the background.
      this.enqueue(tree);
      return true;
    }
    this.enqueue(target);
    return true;
  }

  /** Deletes, in the background, everything in the trash (at a start: what a crash left there). */
  empty(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) this.enqueue(path.join(this.dir, n));
  }

  /** Resolves once nothing is left to delete. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private enqueue(p: string): void {
    this.queue.push(p);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) {
      try {
        await runHostCommand('rm', ['-rf', '--one-file-system', '--', p], { timeoutMs: DELETE_TIMEOUT_MS });
      } catch (err) {
        this.log?.warn({ err, path: p }, 'deleting a discarded tree failed; the next start retries');
      }
    }
  }
}
