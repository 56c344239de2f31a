/**
 * The CLI's log: leveled lines on stderr in the logrus text form Podman
 * prints (`time="…" level=debug msg="…" key=value`), written only at or above
 * `--log-level` (default warn). It loads nothing, so commands start fast.
 */
import { CliError, EXIT_ENGINE } from './errors';

/** Log levels the CLI accepts, least severe first (Podman's, plus `warning` and `panic` as aliases). */
export const CLI_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type CliLogLevel = (typeof CLI_LOG_LEVELS)[number];

/**
 * The CLI's log level from `--log-level` (default `warn`, as Podman's).
 * @throws CliError (exit 125) naming the flag for an unknown level.
 */
export function cliLogLevel(flag: string | undefined): CliLogLevel {
  const v = (flag ?? 'warn').toLowerCase();
  const alias: Record<string, CliLogLevel> = { warning: 'warn', panic: 'fatal' };
  const level = alias[v] ?? v;
  if (!(CLI_LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CliError(`--log-level: "${flag}" is not one of ${CLI_LOG_LEVELS.join(', ')}`, EXIT_ENGINE);
  }
  return level as CliLogLevel;
}


/** A leveled logger; fields are printed as `key=value` after the message. */
export interface CliLog {
  readonly level: CliLogLevel;
  enabled(level: CliLogLevel): boolean;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : v instanceof Error ? v.message : JSON.stringify(v);
  return /^[\w./:@-]+$/.test(s ?? '') ? String(s) : JSON.stringify(s ?? '');
}

/**
 * A logger writing to `write` (default: stderr) at `level` and above.
 * @param level the least severe level written.
 */
export function createCliLog(level: CliLogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): CliLog {
  const min = CLI_LOG_LEVELS.indexOf(level);
  const enabled = (l: CliLogLevel): boolean => CLI_LOG_LEVELS.indexOf(l) >= min;
  const emit = (l: CliLogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (!enabled(l)) return;
    let line = `time="${new Date().toISOString()}" level=${l} msg=${JSON.stringify(msg)}`;
    for (const [k, v] of Object.entries(fields ?? {})) if (v !== undefined) line += ` ${k}=${quote(v)}`;
    write(line + '\n');
  };
  return {
    level,
    enabled,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
