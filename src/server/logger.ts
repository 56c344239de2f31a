import pino from 'pino';

/** The logger type used across peapod: pino, JSON lines on stderr. */
export type Logger = pino.Logger;

/**
 * Creates the process logger: pino JSON lines on stderr (fd 2), so stdout
 * stays free for command output.
 * @param level the least severe level written (`trace` … `fatal`).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'peapod-cri' } }, pino.destination({ fd: 2, sync: true }));
}
