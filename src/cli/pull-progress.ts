/**
 * What `peapod pull` shows while it pulls. On a terminal: one line per layer
 * with a bar, bytes fetched of the layer's size and the speed, redrawn in
 * place at most 10 times a second (cursor up, clear to the end of screen),
 * and a final summary. Elsewhere: plain lines (one per layer as it starts,
 * then the summary), as Podman prints to a pipe. Bytes are of the
 * compressed blobs.
 */
import type { PullProgress } from '../image-service/puller';
import { binarySize, humanSize } from './output/units';

/** Redraws per second on a terminal, at most. */
const REDRAWS_PER_SECOND = 10;
const BAR_WIDTH = 20;

interface LayerState {
  digest: string;
  size: number;
  fetched: number;
  state: 'waiting' | 'downloading' | 'exists' | 'unpacking' | 'done';
  /** When its download started (ms), for the speed. */
  started?: number;
  /** When it finished downloading (ms). */
  finished?: number;
  announced?: boolean;
}

/** A writable terminal or pipe. */
export interface ProgressOut {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

function speed(bytes: number, ms: number): string {
  return ms > 0 ? `${binarySize((bytes * 1000) / ms)}/s` : '';
}

/** Draws the progress of one pull. Feed it the puller's events, then call `finish`. */
export class PullProgressView {
  private readonly layers = new Map<string, LayerState>();
  private drawnLines = 0;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private reference = '';

  constructor(
    private readonly out: ProgressOut,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** "Trying to pull REF..." */
  begin(reference: string): void {
    this.reference = reference;
    this.out.write(`Trying to pull ${reference}...\n`);
  }

  /** Takes one progress event from the puller. */
  onEvent = (e: PullProgress): void => {
    if (e.type === 'resolved') {
      this.reference = e.reference;
      for (const l of e.layers) this.layers.set(l.digest, { digest: l.digest, size: l.size, fetched: 0, state: 'waiting' });
      if (!this.tty) this.out.write('Getting image source signatures\n');
    } else if (e.type === 'layer') {
      const l = this.layers.get(e.digest) ?? { digest: e.digest, size: e.size, fetched: 0, state: 'waiting' as const };
      this.layers.set(e.digest, l);
      if (e.state === 'downloading' && l.started === undefined) l.started = this.now();
      if ((e.state === 'unpacking' || e.state === 'done' || e.state === 'exists') && l.finished === undefined) l.finished = this.now();
      l.state = e.state;
      l.fetched = e.fetched;
      if (!this.tty) this.plain(l);
    }
    if (this.tty) this.schedule();
  };

  private plain(l: LayerState): void {
    if (l.announced) return;
    if (l.state === 'exists') {
      l.announced = true;
      this.out.write(`Copying blob ${l.digest} skipped: already exists\n`);
    } else if (l.state === 'downloading') {
      l.announced = true;
      this.out.write(`Copying blob ${l.digest}\n`);
    }
  }

  private schedule(): void {
    const wait = this.lastDraw + 1000 / REDRAWS_PER_SECOND - this.now();
    if (wait <= 0) {
      this.draw();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.draw();
      }, wait);
      this.timer.unref();
    }
  }

  /** The line of one layer, at most `width` characters. */
  layerLine(l: LayerState, width: number): string {
    const id = l.digest.replace(/^sha256:/, '').slice(0, 12);
    let tail: string;
    if (l.state === 'exists') tail = 'skipped: already exists';
    else if (l.state === 'waiting') tail = 'waiting';
    else {
      const frac = l.size > 0 ? Math.min(1, l.fetched / l.size) : 1;
      const full = Math.round(frac * BAR_WIDTH);
      const bar = l.state === 'downloading' ? `[${'='.repeat(Math.max(0, full - 1))}${full > 0 ? '>' : ''}${' '.repeat(BAR_WIDTH - full)}]` : `[${'='.repeat(BAR_WIDTH)}]`;
      const end = l.finished ?? this.now();
      const rate = l.started !== undefined ? speed(l.fetched, end - l.started) : '';
      const word = l.state === 'downloading' ? '' : l.state === 'unpacking' ? ' unpacking' : ' done';
      tail = `${bar} ${binarySize(l.fetched)} / ${binarySize(l.size)}${rate ? ` ${rate}` : ''}${word}`;
    }
    const line = `Copying blob ${id} ${tail}`;
    return line.length > width ? line.slice(0, Math.max(0, width - 1)) + '…' : line;
  }

  /** The lines to draw: one per layer, or, when they would not fit the terminal, the unfinished ones and a count of the rest. */
  screenLines(): string[] {
    const width = Math.max(40, (this.out.columns || 80) - 1);
    const all = [...this.layers.values()];
    const max = Math.max(3, (this.out.rows || 24) - 3);
    if (all.length <= max) return all.map((l) => this.layerLine(l, width));
    const finished = (l: LayerState): boolean => l.state === 'done' || l.state === 'exists';
    const open = all.filter((l) => !finished(l)).slice(0, max - 1);
    const rest = all.length - open.length;
    const done = all.filter(finished).length;
    return [...open.map((l) => this.layerLine(l, width)), `… ${rest} more layer${rest === 1 ? '' : 's'} (${done} of ${all.length} done)`];
  }

  private draw(): void {
    this.lastDraw = this.now();
    const lines = this.screenLines();
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A\x1b[J` : '';
    this.out.write(up + lines.map((l) => l + '\n').join(''));
    this.drawnLines = lines.length;
  }

  /** The summary: layers, bytes fetched, time and speed. */
  summary(imageId: string): string {
    const all = [...this.layers.values()];
    const fetched = all.filter((l) => l.state !== 'exists').reduce((n, l) => n + l.fetched, 0);
    const ms = this.now() - this.started;
    const existing = all.filter((l) => l.state === 'exists').length;
    return `Pulled ${this.reference} (${imageId.replace(/^sha256:/, '').slice(0, 12)}): ${all.length} layer${all.length === 1 ? '' : 's'}${existing ? ` (${existing} already stored)` : ''}, ${humanSize(fetched)} in ${(ms / 1000).toFixed(2)} s${ms > 0 && fetched > 0 ? ` (${humanSize((fetched * 1000) / ms)}/s)` : ''}`;
  }

  /** Final redraw (terminal) and the summary line. */
  finish(imageId: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.tty) this.draw();
    else this.out.write('Writing manifest to image destination\n');
    this.out.write(this.summary(imageId) + '\n');
  }

  /** Stops redrawing (after a failed pull). */
  abort(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
