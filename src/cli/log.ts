/**
 * The CLI's log: pino, as peapod-cri's, its records written on stderr as
 * Podman's are, one text line each (`WARN[0000] message key=value`: the
 * level, the seconds since the command started, the message, the other
 * fields; an error as its message), written only at or above `--log-level` (default warn) and
 * loaded only when a record at that level is actually written: pino costs
 * a few milliseconds to load, which a command that logs nothing (nearly
 * every run at the default level) does not pay. The logger is the domain's
 * `Logger` type, so the same object goes to openPeapod.
 *
 * Errors for the user are not log records: they are output, one plain
 * `Error: …` line (errors.ts).
 */
import type { Logger } from '../common/logger';
import { CliError, EXIT_ENGINE } from './errors';

/** Log levels the CLI accepts, least severe first (Podman's, plus `warning` and `panic` as aliases). */
export const CLI_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
/** One of CLI_LOG_LEVELS. */
export type CliLogLevel = (typeof CLI_LOG_LEVELS)[number];

/** pino's numeric value of each level. */
const LEVEL_VALUE: Record<CliLogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

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

/** Where log lines go: anything with a `write(line)` (stderr, or a test's sink). */
export interface LogSink {
  write(line: string): unknown;
}

/** What every logger of one tree shares: the level, the sink, and pino once loaded. */
interface Root {
  level: CliLogLevel;
  sink: LogSink;
  pino?: Logger;
}

/**
 * A stand-in for a pino logger that loads pino on the first record at an
 * enabled level, then forwards to it (children are made on the real logger
 * with the same bindings, in order). Records below the level cost a
 * comparison.
 */
class LazyLogger {
  private real: Logger | undefined;

  constructor(
    private readonly root: Root,
    private readonly bindings: Record<string, unknown>[],
  ) {}

  get level(): string {
    return this.root.level;
  }

  isLevelEnabled(level: string): boolean {
    const v = LEVEL_VALUE[level as CliLogLevel];
    return v !== undefined && v >= LEVEL_VALUE[this.root.level];
  }

  child(bindings: Record<string, unknown>): LazyLogger {
    return new LazyLogger(this.root, [...this.bindings, bindings]);
  }

  trace(...args: unknown[]): void {
    this.emit('trace', args);
  }
  debug(...args: unknown[]): void {
    this.emit('debug', args);
  }
  info(...args: unknown[]): void {
    this.emit('info', args);
  }
  warn(...args: unknown[]): void {
    this.emit('warn', args);
  }
  error(...args: unknown[]): void {
    this.emit('error', args);
  }
  fatal(...args: unknown[]): void {
    this.emit('fatal', args);
  }
  /** pino's silent level: never writes. */
  silent(): void {}

  private emit(level: CliLogLevel, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    const fn = this.logger()[level] as (...a: unknown[]) => void;
    fn.apply(this.logger(), args);
  }

  private logger(): Logger {
    if (!this.real) {
      const root = this.root;
      if (!root.pino) {
        // Loaded on first use (start-up cost); the same bounded lines as the server's (common/logger.ts).
        const { createLogger } = require('../common/logger') as typeof import('../common/logger');
        root.pino = createLogger(root.level, 'peapod', { write: (s: string) => root.sink.write(textLine(s)) });
      }
      let l = root.pino;
      for (const b of this.bindings) l = l.child(b);
      this.real = l;
    }
    return this.real;
  }
}

/** logrus' level names, as Podman prints them. */
const LEVEL_NAME: Record<number, string> = { 10: 'TRAC', 20: 'DEBU', 30: 'INFO', 40: 'WARN', 50: 'ERRO', 60: 'FATA' };

/** One field's value as text: strings quoted when they have spaces, errors as their message. */
function fieldText(v: unknown): string {
  if (v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') v = (v as { message: string }).message;
  const t = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(t) ? JSON.stringify(t) : t;
}

/**
 * A pino JSON record as Podman's text log line (see the module doc).
 * @param json one JSON line as pino writes it
 * @returns the line, with its newline; the input unchanged when it is not a JSON object.
 */
export function textLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time: _time, name: _name, msg, pid: _pid, hostname: _host, ...fields } = rec;
  const secs = String(Math.floor(process.uptime())).padStart(4, '0');
  const rest = Object.entries(fields).map(([k, v]) => ` ${k}=${fieldText(v)}`).join('');
  return `${LEVEL_NAME[level as number] ?? String(level)}[${secs}] ${typeof msg === 'string' ? msg : ''}${rest}\n`;
}

/**
 * The CLI's logger at `level` and above, writing Podman-style text lines to `sink`
 * (default stderr); pino is loaded on the first record written.
 * @returns a logger of the domain's type (pino's calling convention:
 *   `log.debug({ key: value }, 'message')`, `log.child({ … })`).
 */
export function createCliLogger(level: CliLogLevel, sink: LogSink = process.stderr): Logger {
  // The stand-in has pino's methods the domain and the CLI call (levels, child, level, isLevelEnabled).
  return new LazyLogger({ level, sink }, []) as unknown as Logger;
}
