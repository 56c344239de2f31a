import pino from 'pino';
import { boundMessage } from './bounded-text';

/** The logger type used across peapod: pino, JSON lines on stderr. */
export type Logger = pino.Logger;

/** Longest array logged whole; a longer one keeps this many entries and a count. */
const MAX_LOGGED_ENTRIES = 64;

/** How deep into nested objects logged values are bounded (deeper ones are logged as given). */
const MAX_LOGGED_DEPTH = 6;

/**
 * A value bounded for a log line: every string cut to MAX_MESSAGE_BYTES
 * (boundMessage), arrays to MAX_LOGGED_ENTRIES entries, byte buffers
 * replaced by their length; objects copied with their values bounded.
 * Errors are left to the `err` serializer (see createLogger). So a client's
 * 1 MiB host IP or runc's whole stderr never makes a megabyte log line.
 * @param value any value a log call was given
 */
export function boundLogged(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return boundMessage(value);
  if (value === null || typeof value !== 'object' || value instanceof Error || depth >= MAX_LOGGED_DEPTH) return value;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_LOGGED_ENTRIES).map((v) => boundLogged(v, depth + 1));
    if (value.length > MAX_LOGGED_ENTRIES) kept.push(`… ${value.length} entries in all`);
    return kept;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[boundMessage(k, 256)] = boundLogged(v, depth + 1);
  return out;
}

/**
 * Creates a process logger: pino JSON lines on stderr (fd 2), so stdout
 * stays free for command output. Every line is bounded: the logged
 * object's strings (boundLogged), the message, and an `err`'s message,
 * stack and properties (pino's standard error serializer, then boundLogged).
 * @param level the least severe level written (`trace` … `fatal`)
 * @param name the program, stamped on every line (`peapod-cri`, `peapod`)
 * @param destination where lines go (default: stderr, written synchronously)
 */
export function createLogger(level: string, name: string, destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino(
    {
      level,
      base: { name },
      formatters: { log: (obj) => boundLogged(obj) as Record<string, unknown> },
      serializers: {
        err: (err: Error) => {
          const s: unknown = pino.stdSerializers.err(err);
          return boundLogged(typeof s === 'object' && s !== null ? { ...s } : s);
        },
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? boundMessage(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
