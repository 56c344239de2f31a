/**
 * Our terminal in raw mode for an interactive container (`run -it`,
 * `attach`, `exec -it`), as Podman sets it: no line editing, no echo, no
 * signals from keys, and no output post-processing. libuv's raw mode
 * (`setRawMode`) keeps output post-processing (ONLCR) on; the container's
 * terminal already sends `\r\n`, which ours would then show as `\r\r\n`,
 * so `stty -opost` is run on it too. `setRawMode(false)` restores the
 * settings libuv saved before, post-processing included.
 */
import { spawnHostProcess } from '../../common/host/command';

/**
 * Puts `input` (our stdin, a terminal) in raw mode with output
 * post-processing off.
 * @returns a function that restores the terminal, and a promise settled
 *   once post-processing is off (or could not be turned off).
 */
export function enterRawTerminal(input: NodeJS.ReadStream): { restore: () => void; ready: Promise<void> } {
  input.setRawMode(true);
  const ready = new Promise<void>((resolve) => {
    const stty = spawnHostProcess('stty', ['-opost'], { stdio: [input, 'ignore', 'ignore'] });
    stty.on('error', () => resolve());
    stty.on('exit', () => resolve());
  });
  return { restore: () => input.setRawMode(false), ready };
}

/** Whether `input` is a terminal we can put in raw mode. */
export function canRaw(input: NodeJS.ReadStream | undefined): input is NodeJS.ReadStream {
  return input?.isTTY === true && typeof input.setRawMode === 'function';
}
