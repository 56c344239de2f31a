import { expect } from 'chai';
import { CommandSpec, FlagSpec, helpText, parseArgv, UsageError } from '../../src/cli/argv';

const GLOBAL: FlagSpec[] = [
  { name: 'root', type: 'string', help: 'root' },
  { name: 'log-level', type: 'string', help: 'level', default: 'warn' },
];
const LS: CommandSpec = {
  name: 'images',
  summary: 'List images',
  maxArgs: 1,
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'ids' },
    { name: 'noheading', short: 'n', type: 'bool', help: 'no header' },
    { name: 'filter', short: 'f', type: 'strings', help: 'filters' },
    { name: 'format', type: 'string', help: 'format' },
    { name: 'sort', type: 'string', help: 'sort', default: 'created', choices: ['created', 'id'] },
  ],
};
const RUN: CommandSpec = {
  name: 'run',
  summary: 'Run a command in a new container',
  minArgs: 1,
  interspersed: false,
  flags: [
    { name: 'interactive', short: 'i', type: 'bool', help: 'stdin' },
    { name: 'tty', short: 't', type: 'bool', help: 'tty' },
    { name: 'env', short: 'e', type: 'strings', help: 'env' },
    { name: 'name', type: 'string', help: 'name' },
  ],
};
const CREATE: CommandSpec = { name: 'create', summary: 'Create a pod', maxArgs: 1, flags: [{ name: 'hostname', short: 'h', type: 'string', help: 'hostname' }] };
const ROOT: CommandSpec = {
  name: 'peapod',
  summary: 'root',
  commands: [LS, RUN, { name: 'image', summary: 'images', commands: [{ ...LS, name: 'list', aliases: ['ls'] }] }, { name: 'pod', summary: 'pods', commands: [CREATE] }],
};

function run(argv: string[]) {
  const p = parseArgv(ROOT, GLOBAL, argv);
  if (p.kind !== 'run') throw new Error(`not a run: ${p.kind}`);
  return p;
}

describe('CLI argument parser (pflag-like)', () => {
  it('parses long, short, combined and repeated flags, values in both forms, and defaults', () => {
    const p = run(['--root', '/r', 'images', '-qn', '-f', 'a=1', '--filter=b=2', '-fdangling=true', '--format={{.ID}}', 'busybox']);
    expect(p.globals).to.deep.equal({ root: '/r', logLevel: 'warn' });
    expect(p.flags).to.deep.equal({ sort: 'created', quiet: true, noheading: true, filter: ['a=1', 'b=2', 'dangling=true'], format: '{{.ID}}' });
    expect(p.args).to.deep.equal(['busybox']);
  });

  it('takes global flags after the command, flags after arguments, and -- ends flags', () => {
    const p = run(['images', 'x', '--log-level=debug', '-q']);
    expect(p.globals.logLevel).to.equal('debug');
    expect(p.flags.quiet).to.equal(true);
    expect(run(['images', '--', '-q']).args).to.deep.equal(['-q']);
  });

  it('takes pflag forms parseArgs lacks: -f=value, --bool=false, -b=false, and a value that starts with a dash', () => {
    const p = run(['images', '-f=dangling=true', '--quiet=false', '-n=false', '--format', '-x']);
    expect(p.flags).to.deep.include({ filter: ['dangling=true'], quiet: false, noheading: false, format: '-x' });
    expect(run(['images', '-q=true']).flags.quiet).to.equal(true);
  });

  it('ends flags at the first argument of a command that is not interspersed (run IMAGE CMD --flag)', () => {
    const p = run(['run', '-it', '-e', 'A=1', '--name=c', 'busybox', 'sh', '-c', 'echo --tty', '--name', 'x']);
    expect(p.flags).to.deep.equal({ interactive: true, tty: true, env: ['A=1'], name: 'c' });
    expect(p.args).to.deep.equal(['busybox', 'sh', '-c', 'echo --tty', '--name', 'x']);
    expect(run(['run', '--', 'busybox', '-x']).args).to.deep.equal(['busybox', '-x']);
    expect(run(['--root', '/r', 'run', 'busybox', '--help']).args).to.deep.equal(['busybox', '--help']);
  });

  it('gives -h to help unless the command has its own -h (pod create -h HOSTNAME)', () => {
    expect(run(['pod', 'create', '-h', 'web', 'p1']).flags).to.deep.equal({ hostname: 'web' });
    expect(parseArgv(ROOT, GLOBAL, ['pod', 'create', '--help'])).to.deep.include({ kind: 'help', asked: true });
    expect(parseArgv(ROOT, GLOBAL, ['images', '-h'])).to.deep.include({ kind: 'help', asked: true });
    expect(helpText([ROOT, ROOT.commands![3], CREATE], GLOBAL)).to.match(/\n {6}--help +Help for create\n/);
  });

  it('finds subcommands by name and alias', () => {
    expect(run(['image', 'ls', '-q']).path.map((c) => c.name)).to.deep.equal(['peapod', 'image', 'list']);
  });

  it('refuses unknown flags and commands, missing values, bad choices, bad booleans and extra arguments', () => {
    const cases: [string[], RegExp][] = [
      [['images', '--nope'], /^unknown flag: --nope\nSee 'peapod images --help'$/],
      [['images', '-x'], /unknown shorthand flag: 'x' in -x/],
      [['nope'], /unrecognized command `peapod nope`/],
      [['images', '--format'], /flag needs an argument: --format/],
      [['images', '-qf'], /flag needs an argument: 'f' in -f/],
      [['images', '-qz'], /unknown shorthand flag: 'z' in -qz/],
      [['-q', 'images'], /unknown shorthand flag: 'q' in -q\nSee 'peapod --help'/],
      [['images', '--sort', 'size'], /invalid argument "size" for "--sort" flag: must be one of created, id/],
      [['images', '--quiet=maybe'], /invalid argument "maybe" for "--quiet" flag/],
      [['images', 'a', 'b'], /accepts at most 1 arg\(s\), received 2/],
    ];
    for (const [argv, re] of cases) {
      let err: unknown;
      try {
        parseArgv(ROOT, GLOBAL, argv);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).to.be.instanceOf(UsageError);
      expect((err as UsageError).exitCode).to.equal(125);
      expect((err as Error).message, argv.join(' ')).to.match(re);
    }
  });

  it('answers help and version requests, and help for a group without a subcommand', () => {
    expect(parseArgv(ROOT, GLOBAL, ['images', '--help']).kind).to.equal('help');
    expect(parseArgv(ROOT, GLOBAL, ['help', 'image', 'ls'])).to.deep.include({ kind: 'help' });
    expect(parseArgv(ROOT, GLOBAL, ['--version']).kind).to.equal('version');
    expect(parseArgv(ROOT, GLOBAL, ['image'])).to.deep.include({ kind: 'help', asked: false });
    expect(parseArgv(ROOT, GLOBAL, ['pod', 'help', 'create'])).to.deep.include({ kind: 'help', asked: true });
    expect(parseArgv(ROOT, GLOBAL, ['--root', '/r', '-v']).kind).to.equal('version');
    const text = helpText([ROOT, LS], GLOBAL);
    expect(text).to.contain('Usage:\n  peapod images [options]');
    expect(text).to.match(/-q, --quiet\s+ids/);
    expect(text).to.match(/--sort string\s+sort \(default "created"\)/);
    expect(text).to.contain('Global Options:');
  });
});
