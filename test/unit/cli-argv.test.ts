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
const ROOT: CommandSpec = { name: 'peapod', summary: 'root', commands: [LS, { name: 'image', summary: 'images', commands: [{ ...LS, name: 'list', aliases: ['ls'] }] }] };

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

  it('finds subcommands by name and alias', () => {
    expect(run(['image', 'ls', '-q']).path.map((c) => c.name)).to.deep.equal(['peapod', 'image', 'list']);
  });

  it('refuses unknown flags and commands, missing values, bad choices, bad booleans and extra arguments', () => {
    const cases: [string[], RegExp][] = [
      [['images', '--nope'], /^unknown flag: --nope\nSee 'peapod images --help'$/],
      [['images', '-x'], /unknown shorthand flag: 'x' in -x/],
      [['nope'], /unrecognized command `peapod nope`/],
      [['images', '--format'], /flag needs an argument: --format/],
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
    expect(parseArgv(ROOT, GLOBAL, ['image']).kind).to.equal('help');
    const text = helpText([ROOT, LS], GLOBAL);
    expect(text).to.contain('Usage:\n  peapod images [options]');
    expect(text).to.match(/-q, --quiet\s+ids/);
    expect(text).to.match(/--sort string\s+sort \(default "created"\)/);
    expect(text).to.contain('Global Options:');
  });
});
