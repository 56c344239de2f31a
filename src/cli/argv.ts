/**
 * Command-line parsing for `peapod`, in the manner of Podman's cobra/pflag:
 * `--flag`, `--flag=value`, `--flag value`, `-f value`, `-fvalue`, combined
 * short booleans (`-qn`), repeatable flags, `--` to end flags, flags
 * interspersed with arguments, global flags before or after the command, and
 * cobra-style `--help` text. Hand-written rather than commander because it
 * is on the start path of every command: commander alone costs about 12 ms
 * of the 30 ms the CLI may add to a bare Node start (measured, see
 * docs/cli.md).
 */
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
  examples?: string[];
  commands?: CommandSpec[];
  /** The module that runs the command, relative to src/cli/. */
  module?: string;
  /**
   * False: flags end at the first positional argument, so what follows is
   * passed on as it is (`run IMAGE sh -c …`, `exec CTR ls -l`), as cobra's
   * SetInterspersed(false). Default true.
   */
  interspersed?: boolean;
}

/** The outcome of parsing. */
export type Parsed =
  | { kind: 'run'; path: CommandSpec[]; args: string[]; flags: Record<string, unknown>; globals: Record<string, unknown> }
  | { kind: 'help'; path: CommandSpec[] }
  | { kind: 'version' };

/** A usage error; the message is Podman's form, the second line points at the help. */
export class UsageError extends CliError {
  constructor(message: string, readonly commandPath: string) {
    super(`${message}\nSee '${commandPath} --help'`, EXIT_ENGINE);
    this.name = 'UsageError';
  }
}

/** `no-trunc` → `noTrunc`. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function defaults(specs: FlagSpec[], into: Record<string, unknown>): void {
  for (const f of specs) if (f.default !== undefined) into[camel(f.name)] = f.default;
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
  const args: string[] = [];
  defaults(globalFlags, globals);
  let cmd = root;
  let endOfFlags = false;
  const pathName = (): string => path.map((c) => c.name).join(' ');
  const find = (long: string | undefined, short: string | undefined): { spec: FlagSpec; into: Record<string, unknown> } | undefined => {
    const match = (f: FlagSpec): boolean => (long !== undefined ? f.name === long : f.short === short);
    const local = (cmd.flags ?? []).find(match);
    if (local) return { spec: local, into: flags };
    const g = globalFlags.find(match);
    return g ? { spec: g, into: globals } : undefined;
  };
  const set = (spec: FlagSpec, into: Record<string, unknown>, value: string | boolean, shown: string): void => {
    const key = camel(spec.name);
    if (spec.type === 'bool') {
      if (typeof value === 'string' && !['true', 'false', '1', '0'].includes(value)) throw new UsageError(`invalid argument "${value}" for "${shown}" flag: expected true or false`, pathName());
      into[key] = value === true || value === 'true' || value === '1';
      return;
    }
    const v = String(value);
    if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`invalid argument "${v}" for "${shown}" flag: must be one of ${spec.choices.join(', ')}`, pathName());
    if (spec.type === 'strings') into[key] = [...((into[key] as string[] | undefined) ?? []), v];
    else into[key] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (endOfFlags || a === '-' || !a.startsWith('-')) {
      if (!endOfFlags && cmd.commands && args.length === 0) {
        const sub = cmd.commands.find((c) => c.name === a || (c.aliases ?? []).includes(a));
        if (!sub) {
          if (a === 'help') {
            const rest = argv.slice(i + 1).filter((x) => !x.startsWith('-'));
            let target = cmd;
            const p = [...path];
            for (const r of rest) {
              const s = target.commands?.find((c) => c.name === r || (c.aliases ?? []).includes(r));
              if (!s) throw new UsageError(`unknown help topic "${rest.join(' ')}"`, pathName());
              target = s;
              p.push(s);
            }
            return { kind: 'help', path: p };
          }
          throw new UsageError(`unrecognized command \`${pathName()} ${a}\``, pathName());
        }
        path.push(sub);
        cmd = sub;
        defaults(sub.flags ?? [], flags);
        continue;
      }
      args.push(a);
      if (cmd.interspersed === false) endOfFlags = true;
      continue;
    }
    if (a === '--') {
      endOfFlags = true;
      continue;
    }
    if (a === '--help' || a === '-h') return { kind: 'help', path };
    if (path.length === 1 && (a === '--version' || a === '-v')) return { kind: 'version' };
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const found = find(name, undefined);
      if (!found) throw new UsageError(`unknown flag: --${name}`, pathName());
      if (found.spec.type === 'bool') set(found.spec, found.into, eq < 0 ? true : a.slice(eq + 1), `--${name}`);
      else if (eq >= 0) set(found.spec, found.into, a.slice(eq + 1), `--${name}`);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`, pathName());
        set(found.spec, found.into, argv[++i], `--${name}`);
      }
      continue;
    }
    // Short flags: -q, -qn, -fVALUE, -f VALUE, -f=VALUE.
    for (let j = 1; j < a.length; j++) {
      const ch = a[j];
      const found = find(undefined, ch);
      if (!found) throw new UsageError(`unknown shorthand flag: '${ch}' in ${a}`, pathName());
      const shown = `-${ch}, --${found.spec.name}`;
      if (found.spec.type === 'bool') {
        if (a[j + 1] === '=') {
          set(found.spec, found.into, a.slice(j + 2), shown);
          break;
        }
        set(found.spec, found.into, true, shown);
        continue;
      }
      let rest = a.slice(j + 1);
      if (rest.startsWith('=')) rest = rest.slice(1);
      if (rest === '') {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${ch}' in -${ch}`, pathName());
        rest = argv[++i];
      }
      set(found.spec, found.into, rest, shown);
      break;
    }
  }
  if (cmd.commands) return { kind: 'help', path };
  const min = cmd.minArgs ?? 0;
  const max = cmd.maxArgs ?? Infinity;
  if (args.length < min) {
    throw new UsageError(min === 1 && max === 1 ? `accepts 1 arg(s), received ${args.length}` : `requires at least ${min} arg(s), only received ${args.length}`, pathName());
  }
  if (args.length > max) throw new UsageError(max === 0 ? `${pathName()} takes no arguments` : `accepts at most ${max} arg(s), received ${args.length}`, pathName());
  return { kind: 'run', path, args, flags, globals };
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
  const help: FlagSpec = { name: 'help', short: 'h', type: 'bool', help: `Help for ${cmd.name}` };
  if (path.length === 1) {
    out.push('', 'Options:', ...flagLines([...globalFlags, help, { name: 'version', short: 'v', type: 'bool', help: 'Print the version' }]));
  } else {
    out.push('', 'Options:', ...flagLines([...(cmd.flags ?? []), help]));
    out.push('', 'Global Options:', ...flagLines(globalFlags));
  }
  return out.join('\n') + '\n';
}
