import pino from 'pino';

/** The logger type used across peapod: pino, JSON lines on stderr. */
export type Logger = pino.Logger;

/**
 * Creates a process logger: pino JSON lines on stderr (fd 2), so stdout
 * stays free for command output.
 * @param level the least severe level written (`trace` … `fatal`)
 * @param name the program, stamped on every line (`peapod-cri`, `peapod`)
 */
export function createLogger(level: string, name: string): Logger {
  return pino({ level, base: { name } }, pino.destination({ fd: 2, sync: true }));
}
