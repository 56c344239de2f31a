/**
 * Exit codes and error reporting of the `peapod` CLI, as Podman's:
 * 0 success; 125 the engine failed (bad flags, bad configuration, registry or
 * store errors); 126 the command could not be invoked; 127 not found. Some
 * commands add their own, as Podman's do (`rmi`: 1 no such image, 2 in use).
 * Every error is one line `Error: <message>` on stderr; `--log-level debug`
 * adds the stack.
 */

import { boundMessage } from '../common/bounded-text';

/** The engine failed (Podman's 125). */
export const EXIT_ENGINE = 125;
/** The command could not be invoked (Podman's 126). */
export const EXIT_CANNOT_INVOKE = 126;
/** The command was not found (Podman's 127). */
export const EXIT_NOT_FOUND = 127;

/** An error the CLI reports as `Error: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    /** The process exit code (default 125). */
    readonly exitCode: number = EXIT_ENGINE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an error: the CliError's own, else 125. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : EXIT_ENGINE;
}

/**
 * The one line `Error: …` for an error (newlines folded, so a registry's
 * multi-line answer stays one line), bounded as the CRI server bounds its
 * status messages (`boundMessage`, 4 KiB); with `debug`, the stack follows.
 */
export function formatError(err: unknown, debug: boolean): string {
  const message = boundMessage(err instanceof Error ? err.message : String(err));
  // A usage error's second line ("See 'peapod … --help'") stays a line of its own.
  const [first, ...rest] = message.split('\nSee ');
  let out = `Error: ${first.replace(/\s*\n\s*/g, ' ').trim()}\n${rest.map((r) => `See ${r}\n`).join('')}`;
  if (debug && err instanceof Error && err.stack) out += `${err.stack}\n`;
  return out;
}
