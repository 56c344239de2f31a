import type { Readable, Writable } from 'node:stream';

/** A terminal size in character cells (the kubelet's TerminalSize: `{"Width","Height"}`). */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's standard streams for an exec or attach, already connected
 * to the client: the CRI streaming server's SPDY or WebSocket streams, or a
 * CLI's own stdin and stdout. Exactly the ones the client asked for are
 * present.
 *
 * Contract: the container code writes to `stdout`/`stderr` but never ends
 * them (their owner does, after the call settled), and resolves only once
 * everything the process wrote has been written to them.
 */
export interface StdioStreams {
  /** What the client types; ends when the client closes stdin. */
  stdin?: Readable;
  /** Where the process's stdout goes (its terminal output when `tty`). */
  stdout?: Writable;
  /** Where the process's stderr goes; absent with a tty (merged into stdout). */
  stderr?: Writable;
  /** True when the process gets a terminal. */
  tty: boolean;
  /** Terminal size changes from the client (tty only; may stay empty). */
  resize?: AsyncIterable<TerminalSize>;
  /**
   * The client's terminal size when the call starts, where the client knows
   * it before the process runs (a CLI's own terminal; tty only): the process
   * starts with it, so a first `stty size` already sees it.
   */
  initialSize?: TerminalSize;
  /** Aborted when the client went away: stop feeding the streams and give up. */
  signal: AbortSignal;
}
