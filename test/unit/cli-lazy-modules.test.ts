import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** The modules that start host programs (and Node's child_process with them): a command that runs none has no use for them. */
const HOST_PROGRAM_MODULES = ['common/host/command.js', 'common/host/spawner.js', 'common/userns.js'];

/**
 * Runs the unbundled CLI (`PEAPOD_CLI_BUNDLE=0`, so require.cache shows each
 * module) on a private root and runroot.
 * @returns its exit status, stderr and peapod's modules it loaded (paths below dist/src/)
 */
function loadedBy(args: string[], dir: string): { status: number | null; stderr: string; loaded: string[] } {
  const argv = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--config', path.join(dir, 'none.conf'), ...args];
  const probe = `process.argv = [process.argv[0], ${JSON.stringify(MAIN)}, ...${JSON.stringify(argv)}];
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache).filter((f) => /[/]dist[/]src[/]/.test(f)).map((f) => f.replace(/^.*[/]dist[/]src[/]/, '')))));
require(${JSON.stringify(MAIN)});`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, PEAPOD_CLI_BUNDLE: '0' }, timeout: 60_000 });
  const loaded = /LOADED (\[.*\])/.exec(r.stderr)?.[1];
  if (loaded === undefined) throw new Error(`no module report: ${r.stderr}`);
  return { status: r.status, stderr: r.stderr, loaded: JSON.parse(loaded) as string[] };
}

describe('CLI start: a command loads only what it needs (docs/cli.md, How it starts fast)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cli-lazy-'));
    fs.writeFileSync(path.join(dir, 'none.conf'), '');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: { cmd: string[]; store: string }[] = [
    { cmd: ['ps', '-a'], store: 'runtime-service/state-db.js' },
    { cmd: ['images'], store: 'image-service/store/image-store.js' },
  ];
  for (const { cmd, store } of cases) {
    it(`\`${cmd.join(' ')}\` opens the store but loads no host-program code (the rootless check reads the user namespace code only when re-executed)`, () => {
      // The first container command after a boot recovers the runroot (runc state of every container: host programs); the second is the usual start.
      expect(loadedBy(cmd, dir).status).to.equal(0);
      const r = loadedBy(cmd, dir);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.loaded, 'the command ran on the store').to.include(store);
      for (const m of HOST_PROGRAM_MODULES) expect(r.loaded, m).to.not.include(m);
    });
  }
});
