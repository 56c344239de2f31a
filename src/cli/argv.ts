/**
 * Command-line parsing for `peapod`, in the manner of Podman's cobra/pflag,
 * on Node's built-in `node:util` parseArgs (no start-up cost: it is part of
 * Node). parseArgs does the tokenizing: `--flag`, `--flag=value`,
 * `--flag value`, `-f value`, `-fvalue`, combined short booleans (`-qn`, `-it`),
 * repeated flags, `--` ending flags, flags interspersed with arguments.
 *
 * The thin layer here does what parseArgs cannot:
 * - subcommands (`peapod image ls`), with global flags before or after the
 *   command, and the `help` pseudo-command;
 * - pflag's syntax parseArgs lacks: `-f=value` (parseArgs would keep the
 *   `=`), `--bool=false`, `-b=false`;
 * - Podman's error messages (`unknown flag: --x`, `unknown shorthand flag:
 *   'x' in -qx`, `flag needs an argument: --format`), value choices,
 *   argument counts;
 * - commands whose flags end at the first argument (`interspersed: false`,
 *   cobra's SetInterspersed(false), as `podman run IMAGE CMD --flag`);
 * - cobra-style `--help` text.
 */
import { parseArgs } from 'node:util';
import { CliError, EXIT_ENGINE } from './errors';

/** One flag. `name` is the long name (`no-trunc`); values land under its camelCase key (`noTrunc`). */
export interface FlagSpec {
  name: string;
  short?: string;
  /** `bool` takes no value (`--x=false` allowed); `string` one value; `strings` a value per use, collected. */
  type: 'bool' | 'string' | 'strings';
  /** Placeholder in help (`string`, `path`, …). */
  value?: string;
  help: string;
  default?: string | boolean;
  /** Values allowed for a `string` flag. */
  choices?: string[];
}

/** One command (or a group of subcommands when `commands` is set). */
export interface CommandSpec {
  name: string;
  aliases?: string[];
  /** One line for lists of commands. */
  summary: string;
  /** Longer description for `--help` (default: the summary). */
  description?: string;
  /** Positional arguments in usage form, e.g. `IMAGE [IMAGE...]`. */
  usage?: string;
  /** Fewest and most positional arguments (default 0 and unlimited). */
  minArgs?: number;
  maxArgs?: number;
  flags?: FlagSpec[];
  /**
   * False: flags end at the first positional argument, everything after it
   * is an argument (`run IMAGE sh -c …`). Default true: flags anywhere.
   */
  interspersed?: boolean;
  examples?: string[];
  commands?: CommandSpec[];
  /** The module that runs the command, relative to src/cli/. */
  module?: string;
}

/** The outcome of parsing. */
export type Parsed =
  | { kind: 'run'; path: CommandSpec[]; args: string[]; flags: Record<string, unknown>; globals: Record<string, unknown> }
  /** `asked`: --help, -h or `help` was given (false: a group named without its subcommand). */
  | { kind: 'help'; path: CommandSpec[]; asked: boolean }
  | { kind: 'version' };

/** A usage error; the message is Podman's form, the second line points at the help. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly commandPath: string,
  ) {
    super(`${message}\nSee '${commandPath} --help'`, EXIT_ENGINE);
    this.name = 'UsageError';
  }
}

/** `no-trunc` → `noTrunc`. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** A flag known at one level of the command path, and the record its value goes to. */
interface Known {
  spec: FlagSpec;
  into: Record<string, unknown>;
}

/** The pseudo-flags: help on every command, version on the root only. */
const HELP: FlagSpec = { name: 'help', short: 'h', type: 'bool', help: '' };
const VERSION: FlagSpec = { name: 'version', short: 'v', type: 'bool', help: 'Print the version' };

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
type Token = { kind: 'option'; name: string; rawName: string; index: number; value?: string; inlineValue?: boolean } | { kind: 'positional'; index: number; value: string } | { kind: 'option-terminator'; index: number };

/** The flags of one level: the command's, the globals, help (and version at the root), by long and short name. */
class FlagTable {
  readonly byLong = new Map<string, Known>();
  readonly byShort = new Map<string, Known>();

  constructor(own: FlagSpec[], ownInto: Record<string, unknown>, globals: FlagSpec[], globalsInto: Record<string, unknown>, root: boolean) {
    const meta: Record<string, unknown> = {};
    for (const spec of own) this.add(spec, ownInto);
    for (const spec of globals) this.add(spec, globalsInto);
    // cobra gives -h to help unless the command has its own -h (pod create --hostname).
    this.add(this.byShort.has('h') ? { ...HELP, short: undefined } : HELP, meta);
    if (root) this.add(VERSION, meta);
  }

  private add(spec: FlagSpec, into: Record<string, unknown>): void {
    if (this.byLong.has(spec.name)) return;
    const known = { spec, into };
    this.byLong.set(spec.name, known);
    if (spec.short && !this.byShort.has(spec.short)) this.byShort.set(spec.short, known);
  }

  /** parseArgs's option table: a value-taking flag is `string`, a bool `boolean`. */
  options(): ParseArgsOptions {
    const o: NonNullable<ParseArgsOptions> = {};
    for (const [long, k] of this.byLong) {
      const short = k.spec.short && this.byShort.get(k.spec.short) === k ? k.spec.short : undefined;
      o[long] = { type: k.spec.type === 'bool' ? 'boolean' : 'string', multiple: k.spec.type === 'strings', ...(short ? { short } : {}) };
    }
    return o;
  }
}

/**
 * pflag forms parseArgs reads differently, rewritten to the long form
 * before parsing: `-f=value` (parseArgs keeps the `=`) and `-b=false`
 * (parseArgs would read `=false` as more short flags). Arguments after `--`
 * are left alone.
 */
function normalizePflag(argv: string[], table: FlagTable): string[] {
  const out: string[] = [];
  let ended = false;
  for (const a of argv) {
    if (!ended && a === '--') ended = true;
    const m = !ended ? /^-([^-=])=([\s\S]*)$/.exec(a) : null;
    const known = m ? table.byShort.get(m[1]) : undefined;
    out.push(m && known ? `--${known.spec.name}=${m[2]}` : a);
  }
  return out;
}

/** Tokens of parseArgs for `argv` under `table` (never throws: unknown flags are checked by the caller). */
function tokenize(argv: string[], table: FlagTable): Token[] {
  return parseArgs({ args: argv, options: table.options(), strict: false, allowPositionals: true, tokens: true }).tokens as Token[];
}

/**
 * Applies one option token: checks it is known and has a value when it needs
 * one, converts booleans, checks choices, collects repeated values.
 * @returns the flag's long name.
 * @throws UsageError in Podman's words.
 */
function applyOption(tok: Extract<Token, { kind: 'option' }>, argv: string[], table: FlagTable, pathName: string): string {
  const isShort = !tok.rawName.startsWith('--');
  const known = isShort ? table.byShort.get(tok.name) ?? table.byLong.get(tok.name) : table.byLong.get(tok.name);
  const rawArg = argv[tok.index] ?? tok.rawName;
  if (!known) throw new UsageError(isShort ? `unknown shorthand flag: '${tok.rawName.slice(1)}' in ${rawArg}` : `unknown flag: ${tok.rawName}`, pathName);
  const { spec, into } = known;
  const shown = isShort ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
  const key = camel(spec.name);
  if (spec.type === 'bool') {
    const v = tok.value;
    if (v !== undefined && !['true', 'false', '1', '0'].includes(v)) throw new UsageError(`invalid argument "${v}" for "${shown}" flag: expected true or false`, pathName);
    into[key] = v === undefined || v === 'true' || v === '1';
    return spec.name;
  }
  if (tok.value === undefined) throw new UsageError(isShort ? `flag needs an argument: '${spec.short}' in -${spec.short}` : `flag needs an argument: --${spec.name}`, pathName);
  const v = tok.value;
  if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`invalid argument "${v}" for "${shown}" flag: must be one of ${spec.choices.join(', ')}`, pathName);
  if (spec.type === 'strings') into[key] = [...((into[key] as string[] | undefined) ?? []), v];
  else into[key] = v;
  return spec.name;
}

function defaults(specs: FlagSpec[], into: Record<string, unknown>): void {
  for (const f of specs) if (f.default !== undefined) into[camel(f.name)] = f.default;
}

function findSub(cmd: CommandSpec, name: string): CommandSpec | undefined {
  return cmd.commands?.find((c) => c.name === name || (c.aliases ?? []).includes(name));
}

/**
 * Parses `argv` against the root command and its global flags.
 * @throws UsageError for an unknown command or flag, a missing value, a
 *   value not among the choices, or a wrong number of arguments.
 */
export function parseArgv(root: CommandSpec, globalFlags: FlagSpec[], argv: string[]): Parsed {
  const path: CommandSpec[] = [root];
  const globals: Record<string, unknown> = {};
  const flags: Record<string, unknown> = {};
  defaults(globalFlags, globals);
  let cmd = root;
  let rest = argv;
  const pathName = (): string => path.map((c) => c.name).join(' ');
  // Down the groups: the first argument at each level names the subcommand; flags before it are global ones.
  while (cmd.commands) {
    const table = new FlagTable([], {}, globalFlags, globals, path.length === 1);
    const args = normalizePflag(rest, table);
    const tokens = tokenize(args, table);
    const first = tokens.findIndex((t) => t.kind !== 'option');
    for (const tok of tokens.slice(0, first < 0 ? undefined : first)) {
      const name = applyOption(tok as Extract<Token, { kind: 'option' }>, args, table, pathName());
      if (name === 'help') return { kind: 'help', path, asked: true };
      if (name === 'version') return { kind: 'version' };
    }
    const at = first < 0 ? undefined : tokens[first];
    if (!at || at.kind !== 'positional') return { kind: 'help', path, asked: false };
    const sub = findSub(cmd, at.value);
    if (!sub) {
      if (at.value === 'help') return helpTopic(path, args.slice(at.index + 1), pathName());
      throw new UsageError(`unrecognized command \`${pathName()} ${at.value}\``, pathName());
    }
    path.push(sub);
    cmd = sub;
    rest = [...args.slice(0, at.index), ...args.slice(at.index + 1)];
  }
  defaults(cmd.flags ?? [], flags);
  const table = new FlagTable(cmd.flags ?? [], flags, globalFlags, globals, false);
  let args = normalizePflag(rest, table);
  let tokens = tokenize(args, table);
  let trailing: string[] = [];
  if (cmd.interspersed === false) {
    // Flags end at the first argument: parse what comes before it only.
    const first = tokens.find((t) => t.kind !== 'option');
    if (first) {
      trailing = args.slice(first.kind === 'option-terminator' ? first.index + 1 : first.index);
      args = args.slice(0, first.index);
      tokens = tokenize(args, table);
    }
  }
  const positionals: string[] = [];
  let help = false;
  for (const tok of tokens) {
    if (tok.kind === 'positional') positionals.push(tok.value);
    else if (tok.kind === 'option' && applyOption(tok, args, table, pathName()) === 'help') help = true;
  }
  if (help) return { kind: 'help', path, asked: true };
  positionals.push(...trailing);
  const min = cmd.minArgs ?? 0;
  const max = cmd.maxArgs ?? Infinity;
  if (positionals.length < min) {
    throw new UsageError(min === 1 && max === 1 ? `accepts 1 arg(s), received ${positionals.length}` : `requires at least ${min} arg(s), only received ${positionals.length}`, pathName());
  }
  if (positionals.length > max) throw new UsageError(max === 0 ? `${pathName()} takes no arguments` : `accepts at most ${max} arg(s), received ${positionals.length}`, pathName());
  return { kind: 'run', path, args: positionals, flags, globals };
}

/** `peapod [group] help [COMMAND…]`: help of the command the words name (flags among them are ignored). */
function helpTopic(path: CommandSpec[], words: string[], pathName: string): Parsed {
  const names = words.filter((w) => !w.startsWith('-'));
  const p = [...path];
  for (const n of names) {
    const s = findSub(p[p.length - 1], n);
    if (!s) throw new UsageError(`unknown help topic "${names.join(' ')}"`, pathName);
    p.push(s);
  }
  return { kind: 'help', path: p, asked: true };
}

function flagLines(specs: FlagSpec[]): string[] {
  const left = specs.map((f) => {
    const value = f.type === 'bool' ? '' : ` ${f.value ?? (f.type === 'strings' ? 'stringArray' : 'string')}`;
    return `${f.short ? `  -${f.short}, ` : '      '}--${f.name}${value}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 3;
  return specs.map((f, i) => {
    const def = f.default !== undefined && f.default !== false && f.default !== '' ? ` (default ${JSON.stringify(f.default)})` : '';
    return `${left[i].padEnd(width)}${f.help}${def}`;
  });
}

/** Help text for the command at the end of `path` (cobra's layout). */
export function helpText(path: CommandSpec[], globalFlags: FlagSpec[]): string {
  const cmd = path[path.length - 1];
  const full = path.map((c) => c.name).join(' ');
  const out: string[] = [cmd.summary, ''];
  if (cmd.description) out.push('Description:', ...cmd.description.split('\n').map((l) => `  ${l}`), '');
  out.push('Usage:', cmd.commands ? `  ${full} [options] [command]` : `  ${full}${cmd.flags?.length ? ' [options]' : ''}${cmd.usage ? ` ${cmd.usage}` : ''}`);
  if (cmd.aliases?.length) out.push('', 'Aliases:', `  ${[cmd.name, ...cmd.aliases].join(', ')}`);
  if (cmd.examples?.length) out.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  if (cmd.commands) {
    const w = Math.max(...cmd.commands.map((c) => c.name.length)) + 2;
    out.push('', 'Available Commands:', ...cmd.commands.map((c) => `  ${c.name.padEnd(w)}${c.summary}`));
  }
  const ownH = (cmd.flags ?? []).some((f) => f.short === 'h');
  const help: FlagSpec = { ...HELP, short: ownH ? undefined : 'h', help: `Help for ${cmd.name}` };
  if (path.length === 1) {
    out.push('', 'Options:', ...flagLines([...globalFlags, help, VERSION]));
  } else {
    out.push('', 'Options:', ...flagLines([...(cmd.flags ?? []), help]));
    out.push('', 'Global Options:', ...flagLines(globalFlags));
  }
  return out.join('\n') + '\n';
}
