import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { CommandSpec } from '../../../src/cli/argv';
import { ROOT, runCli } from '../../../src/cli/commands';
import { CliEnv, makeCliEnv } from './cli-harness';

/** Every command path of the table (`['image', 'ls']` …). */
function commandPaths(spec: CommandSpec, prefix: string[] = []): string[][] {
  return (spec.commands ?? []).flatMap((c) => [[...prefix, c.name], ...commandPaths(c, [...prefix, c.name])]);
}

/** The spec of the command at `names` (aliases too), from the root. */
function lookUp(names: string[]): CommandSpec {
  let spec = ROOT;
  for (const n of names) {
    const next = spec.commands?.find((c) => c.name === n || c.aliases?.includes(n));
    if (!next) break;
    spec = next;
  }
  return spec;
}

/** Runs the CLI's runCli in this process with captured stdout and stderr (for commands that touch nothing: help). */
async function runInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const capture = (): Writable & { text: string } => {
    const w = new Writable({
      write(chunk: Buffer, _enc, cb) {
        w.text += chunk.toString();
        cb();
      },
    }) as Writable & { text: string };
    w.text = '';
    return w;
  };
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(argv, { stdout, stderr, stdin: process.stdin });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('peapod CLI: framework (flags, help, exit codes, version)', function () {
  this.timeout(60_000);
  let env: CliEnv;
  before(() => (env = makeCliEnv()));
  after(() => env.cleanup());

  it('version prints peapod and Node versions; --format json and a template', async () => {
    const plain = await env.run(['version']);
    expect(plain.code).to.equal(0);
    expect(plain.stdout).to.match(/^Version:\s+\d+\.\d+\.\d+\nNode Version:\s+v\d+/);
    const json = await env.run(['version', '--format', 'json']);
    expect(JSON.parse(json.stdout).Client.NodeVersion).to.equal(process.version);
    const tpl = await env.run(['version', '-f', '{{.Client.Version}}']);
    expect(tpl.stdout.trim()).to.match(/^\d+\.\d+\.\d+$/);
    const v = await env.run(['--version']);
    expect(v.stdout).to.match(/^peapod version \d+\.\d+\.\d+\n$/);
  });

  it('an unknown flag or command exits 125 with Podman-style errors on stderr', async () => {
    const flag = await env.run(['images', '--bogus']);
    expect(flag.code).to.equal(125);
    expect(flag.stdout).to.equal('');
    expect(flag.stderr).to.equal("Error: unknown flag: --bogus\nSee 'peapod images --help'\n");
    const cmd = await env.run(['frobnicate']);
    expect(cmd.code).to.equal(125);
    expect(cmd.stderr).to.contain('Error: unrecognized command `peapod frobnicate`');
    const missing = await env.run(['image']);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.contain("Error: missing command 'peapod image COMMAND'");
    const none = await env.run([]);
    expect(none.code).to.equal(125);
  });

  it('--help on each command prints its usage and flags and exits 0', async () => {
    const paths = commandPaths(ROOT);
    expect(paths.map((p) => p.join(' '))).to.include.members(['pull', 'images', 'rmi', 'tag', 'untag', 'save', 'load', 'login', 'logout', 'info', 'version', 'image inspect', 'image list']);
    // Every command's help through runCli in this process (what the binary runs: entry.ts), not one
    // Node process per command: a hundred CLI starts took 22 s at load 14 and passed 60 s under more.
    for (const args of [['--help'], ['image', 'ls', '-h'], ['help', 'images'], ...paths.map((p) => [...p, '--help'])]) {
      const r = await runInProcess([...env.globalArgs, ...args]);
      expect(r.code, args.join(' ')).to.equal(0);
      expect(r.stderr, args.join(' ')).to.equal('');
      expect(r.stdout, args.join(' ')).to.contain('Usage:');
      const spec = lookUp(args[0] === 'help' ? args.slice(1) : args.filter((a) => !a.startsWith('-')));
      for (const f of spec.flags ?? []) expect(r.stdout, `${args.join(' ')}: --${f.name}`).to.contain(`--${f.name}`);
    }
    // The binary itself, for the ways of asking: --help, -h, help COMMAND.
    const top = await env.run(['--help']);
    expect(top.code).to.equal(0);
    for (const c of ROOT.commands!) expect(top.stdout).to.match(new RegExp(`\\n  ${c.name} +${c.summary.replace(/[()]/g, '.')}\\n`));
    const ls = await env.run(['image', 'ls', '-h']);
    expect([ls.code, ls.stdout]).to.deep.equal([0, (await runInProcess([...env.globalArgs, 'image', 'ls', '-h'])).stdout]);
    const images = await env.run(['help', 'images']);
    expect(images.code).to.equal(0);
    for (const flag of ['--digests', '--filter', '--format', '--no-trunc', '--noheading', '--quiet', '--sort', '--root', '--runroot', '--log-level', '--config']) expect(images.stdout).to.contain(flag);
  });

  it('a bad configuration file or log level is an engine error (125) naming the problem', async () => {
    const badLevel = await env.run(['--log-level', 'loud', 'images']);
    expect(badLevel.code).to.equal(125);
    expect(badLevel.stderr).to.contain('--log-level').and.contain('loud');
    const noFile = await env.run(['--config', `${env.dir}/nope.conf`, 'images']);
    expect(noFile.code).to.equal(125);
    expect(noFile.stderr).to.match(/^Error: configuration: .*nope\.conf: config file not found\n$/);
  });

  it('--log-level debug shows more: debug lines, and the stack of an error', async () => {
    const quiet = await env.run(['image', 'inspect', 'nosuch']);
    expect(quiet.stderr).to.equal('Error: inspecting object: nosuch: image not known\n');
    const loud = await env.run(['--log-level', 'debug', 'image', 'inspect', 'nosuch']);
    expect(loud.code).to.equal(125);
    expect(loud.stderr).to.match(/^Error: inspecting object: nosuch: image not known\nCliError: .*\n\s+at /);
    const info = await env.run(['info', '--log-level=debug', '--format', '{{.Store.RunRoot}}']);
    expect(info.stdout).to.equal(`${env.runroot}\n`);
  });

  it('images on an empty store prints the header only; -q prints nothing', async () => {
    const r = await env.run(['images']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal('REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n');
    const q = await env.run(['images', '-q']);
    expect(q.stdout).to.equal('');
  });
});
