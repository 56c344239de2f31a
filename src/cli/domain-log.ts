/**
 * The domain's logger (pino's interface: `log.info(fields, msg)`,
 * `log.child(bindings)`) written through the CLI's own log, so opening the
 * domain in a short command loads no pino and prints Podman-style lines at
 * the CLI's `--log-level`.
 */
import type { Logger } from '../common/logger';
import type { CliLog, CliLogLevel } from './log';

type Fields = Record<string, unknown>;

/** One of pino's call forms: `(fields, msg)`, `(msg)` or `(error, msg)`. */
function split(a: unknown, b: unknown): { msg: string; fields: Fields } {
  if (typeof a === 'string') return { msg: a, fields: {} };
  if (a instanceof Error) return { msg: typeof b === 'string' ? b : a.message, fields: { err: a } };
  return { msg: typeof b === 'string' ? b : '', fields: (a ?? {}) as Fields };
}

/**
 * A pino-shaped logger over `log` (the subset the domain calls: trace,
 * debug, info, warn, error, fatal, child, level).
 * @returns the domain's Logger type; only those members exist.
 */
export function domainLogger(log: CliLog): Logger {
  const make = (bindings: Fields): unknown => {
    const at =
      (level: CliLogLevel | 'trace') =>
      (a: unknown, b?: unknown): void => {
        const l: CliLogLevel = level === 'trace' ? 'debug' : level;
        if (!log.enabled(l)) return;
        const { msg, fields } = split(a, b);
        const all = { ...bindings, ...fields };
        if (l === 'debug') log.debug(msg, all);
        else if (l === 'info') log.info(msg, all);
        else if (l === 'warn') log.warn(msg, all);
        else log.error(msg, all);
      };
    return {
      level: log.level,
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      child: (more: Fields) => make({ ...bindings, ...more }),
    };
  };
  return make({}) as Logger;
}
