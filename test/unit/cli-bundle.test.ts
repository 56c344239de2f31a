import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLE_FILE, commandKey, userCacheDir } from '../../src/cli/cli-bundle';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** Runs `node main.js ARGS` and reports its stdout and which of peapod's unbundled CLI modules it loaded. */
function runMain(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; unbundled: string[] } {
  const probe = `process.argv = [process.argv[0], ${JSON.stringify(MAIN)}, ...${JSON.stringify(args)}];
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache).filter((f) => /[/]dist[/]src[/]cli[/]/.test(f)).map((f) => path.basename(f)))));
require(${JSON.stringify(MAIN)});`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  const loaded = /LOADED (\[.*\])/.exec(r.stderr)?.[1];
  if (loaded === undefined) throw new Error(`no module report: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, unbundled: JSON.parse(loaded) as string[] };
}

describe('the CLI bundle (scripts/bundle-cli.ts, src/cli/cli-bundle.ts)', () => {
  it('names a code cache after the command, global flags and their values skipped', () => {
    expect(commandKey(['ps', '-a'])).to.equal('ps');
    expect(commandKey(['--root', '/r', '--runroot=/x', 'run', '--rm', 'busybox', 'true'])).to.equal('run');
    expect(commandKey(['pod', 'ps'])).to.equal('pod-ps');
    expect(commandKey(['--log-level', 'debug', 'image', '--root', '/r', 'ls'])).to.equal('image-ls');
    expect(commandKey(['system'])).to.equal('system');
    expect(commandKey([])).to.equal('default');
    expect(commandKey(['--version'])).to.equal('default');
    expect(commandKey(['../etc'])).to.equal('default');
    expect(commandKey(['PS'])).to.equal('default');
    expect(commandKey(['x'.repeat(60)])).to.equal('default');
  });

  it("keeps a user's code caches in the user's cache directory, never root's", () => {
    const dir = userCacheDir({ HOME: '/home/u' }, 1001);
    expect(dir).to.match(/^\/home\/u\/\.cache\/peapod\/bundle-cache\/[0-9a-f]{8}$/);
    expect(userCacheDir({ HOME: '/home/u', XDG_CACHE_HOME: '/c' }, 1001)).to.equal(path.join('/c', 'peapod', 'bundle-cache', path.basename(dir!)));
    // A rootless command inside its namespace is uid 0 there.
    expect(userCacheDir({ HOME: '/home/u', _PEAPOD_USERNS: '123:456' }, 0)).to.equal(dir);
    expect(userCacheDir({ HOME: '/root' }, 0)).to.equal(undefined);
    expect(userCacheDir({ HOME: 'relative', XDG_CACHE_HOME: 'also' }, 1001)).to.equal(undefined);
    expect(userCacheDir({}, 1001)).to.equal(undefined);
  });

  it('is built by npm run build: one ASCII file that main.js runs instead of the modules, with the same output', () => {
    const text = fs.readFileSync(BUNDLE_FILE);
    expect(text.length).to.be.greaterThan(100_000);
    expect(text.findIndex((b) => b > 0x7f)).to.equal(-1);
    const bundled = runMain(['--help']);
    expect(bundled.status).to.equal(0);
    expect(bundled.unbundled).to.deep.equal(['main.js', 'cli-bundle.js']);
    const modules = runMain(['--help'], { PEAPOD_CLI_BUNDLE: '0' });
    expect(modules.status).to.equal(0);
    expect(modules.unbundled).to.include('commands.js');
    expect(bundled.stdout).to.equal(modules.stdout);
    expect(bundled.stdout).to.match(/^Usage:/m);
  });
});
