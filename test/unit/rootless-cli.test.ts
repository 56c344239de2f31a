import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommandSpec, parseArgv } from '../../src/cli/argv';
import { loadConfig } from '../../src/common/config';
import { ensurePrivateDir, rootlessPaths } from '../../src/cli/config';
import { CliError } from '../../src/cli/errors';
import { needsUserNamespace, readHolderFile, rootlessMapping, singleIdWarning } from '../../src/cli/rootless';

describe('rootless CLI: paths, the holder file, maps, the command line', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rootless-cli-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('resolves the store, runroot, configuration and registries of a user from the XDG variables', () => {
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    const runtime = fs.mkdtempSync(path.join(tmp, 'run-'));
    const bare = rootlessPaths({ HOME: home }, 4242);
    expect(bare.root).to.equal(path.join(home, '.local/share/peapod'));
    expect(bare.configFile).to.equal(path.join(home, '.config/peapod/peapod.conf'));
    expect(bare.configDir).to.equal(path.join(home, '.config/peapod/peapod.conf.d'));
    expect(bare.runtimeDir).to.equal('/tmp/peapod-run-4242');
    expect(bare.runroot).to.equal('/tmp/peapod-run-4242/peapod');
    expect(bare.holderFile).to.equal('/tmp/peapod-run-4242/peapod/userns.pid');
    expect(bare.registriesConf).to.equal(undefined);

    fs.mkdirSync(path.join(home, 'cfg', 'containers', 'registries.conf.d'), { recursive: true });
    fs.writeFileSync(path.join(home, 'cfg', 'containers', 'registries.conf'), '');
    const xdg = rootlessPaths({ HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'cfg'), XDG_RUNTIME_DIR: runtime }, 4242);
    expect(xdg.root).to.equal(path.join(home, 'data/peapod'));
    expect(xdg.configFile).to.equal(path.join(home, 'cfg/peapod/peapod.conf'));
    expect(xdg.cliNetworkConfDir).to.equal(path.join(home, 'cfg/peapod/cni/net.d'));
    expect(xdg.runroot).to.equal(path.join(runtime, 'peapod'));
    expect(xdg.registriesConf).to.equal(path.join(home, 'cfg/containers/registries.conf'));
    expect(xdg.registriesConfDir).to.equal(path.join(home, 'cfg/containers/registries.conf.d'));
  });

  it('loads the configuration from the user\'s files over the rootless defaults, never from /etc/peapod', () => {
    const cfgDir = fs.mkdtempSync(path.join(tmp, 'cfg-'));
    const defaultFiles = { configFile: path.join(cfgDir, 'peapod.conf'), configDir: path.join(cfgDir, 'peapod.conf.d') };
    const defaults = { root: '/home/u/.local/share/peapod', runroot: '/run/user/7/peapod', image: { registries_conf: '/home/u/.config/containers/registries.conf' } };
    const none = loadConfig({ defaults, defaultFiles });
    expect(none.root).to.equal(defaults.root);
    expect(none.runroot).to.equal(defaults.runroot);
    expect(none.runtime.runtimes.runc.runtime_root).to.equal('/run/user/7/peapod/runc');
    expect(none.image.registries_conf).to.equal(defaults.image.registries_conf);
    expect(none.image.registries_conf_dir).to.equal('/etc/containers/registries.conf.d');
    fs.writeFileSync(defaultFiles.configFile, 'root = "/data/mine"\n');
    fs.mkdirSync(defaultFiles.configDir);
    fs.writeFileSync(path.join(defaultFiles.configDir, '10.conf'), '[image]\nmax_concurrent_downloads = 7\n');
    const mine = loadConfig({ defaults, defaultFiles, overrides: { runroot: '/flag/run' } });
    expect(mine.root).to.equal('/data/mine');
    expect(mine.runroot).to.equal('/flag/run');
    expect(mine.image.max_concurrent_downloads).to.equal(7);
  });

  it('uses XDG_RUNTIME_DIR only when it is a directory of this user (su keeps root\'s)', () => {
    const other = fs.mkdtempSync(path.join(tmp, 'other-'));
    fs.chownSync(other, 1234, 1234);
    expect(rootlessPaths({ HOME: tmp, XDG_RUNTIME_DIR: other }, 4242).runtimeDir).to.equal('/tmp/peapod-run-4242');
    expect(rootlessPaths({ HOME: tmp, XDG_RUNTIME_DIR: 'relative/dir' }, 4242).runtimeDir).to.equal('/tmp/peapod-run-4242');
    const link = path.join(tmp, 'link');
    fs.symlinkSync(tmp, link);
    expect(rootlessPaths({ HOME: tmp, XDG_RUNTIME_DIR: link }, 4242).runtimeDir).to.equal('/tmp/peapod-run-4242');
  });

  it('makes a private runtime dir, and refuses one that is not this user\'s alone', () => {
    const dir = path.join(tmp, 'private', 'run');
    ensurePrivateDir(dir);
    expect(fs.statSync(dir).mode & 0o777).to.equal(0o700);
    ensurePrivateDir(dir);
    const open = path.join(tmp, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    expect(() => ensurePrivateDir(open)).to.throw(CliError, new RegExp(`runtime directory ${open} is owned by uid 0 with mode 755; it must be a directory of this user alone`));
    const foreign = path.join(tmp, 'foreign');
    fs.mkdirSync(foreign, { mode: 0o700 });
    fs.chownSync(foreign, 1234, 1234);
    expect(() => ensurePrivateDir(foreign)).to.throw(CliError, /owned by uid 1234/);
    const link = path.join(tmp, 'private-link');
    fs.symlinkSync(dir, link);
    expect(() => ensurePrivateDir(link)).to.throw(CliError, /is a symlink/);
  });

  it('reads the holder file strictly, and builds the maps and the single-ID warning from subuid files', () => {
    const file = path.join(tmp, 'userns.pid');
    fs.writeFileSync(file, '123 456789\n');
    expect(readHolderFile(file)).to.deep.equal({ pid: 123, startTime: '456789' });
    fs.writeFileSync(file, '123 456789 4026532253\n');
    expect(readHolderFile(file)).to.deep.equal({ pid: 123, startTime: '456789', userNamespace: 4026532253 });
    for (const bad of ['', '123\n', 'x 1\n', '1 2 3 4\n', '-1 5\n']) {
      fs.writeFileSync(file, bad);
      expect(readHolderFile(file), JSON.stringify(bad)).to.equal(undefined);
    }
    expect(readHolderFile(path.join(tmp, 'none'))).to.equal(undefined);

    const subuid = path.join(tmp, 'subuid');
    const subgid = path.join(tmp, 'subgid');
    fs.writeFileSync(subuid, 'ann:100000:65536\n');
    fs.writeFileSync(subgid, '1500:200000:1000\n');
    const m = rootlessMapping({ name: 'ann', uid: 1500, gid: 1600 }, { subuid, subgid });
    expect(m.uids).to.deep.equal([{ inside: 0, outside: 1500, count: 1 }, { inside: 1, outside: 100000, count: 65536 }]);
    expect(m.gids).to.deep.equal([{ inside: 0, outside: 1600, count: 1 }, { inside: 1, outside: 200000, count: 1000 }]);
    expect(singleIdWarning(m, 'ann')).to.equal(undefined);
    const none = rootlessMapping({ name: 'bea', uid: 1700, gid: 1700 }, { subuid, subgid });
    expect(none.uids).to.deep.equal([{ inside: 0, outside: 1700, count: 1 }]);
    expect(singleIdWarning(none, 'bea')).to.match(/^no subordinate IDs for bea in \/etc\/subuid and \/etc\/subgid: using a single-ID user namespace .*Images with files owned by other users or groups cannot be pulled.*usermod --add-subuids 100000-165535 --add-subgids 100000-165535 bea/);
  });

  it('leaves only version, help, login and logout outside the namespace', () => {
    for (const c of [['version'], ['help'], ['login'], ['logout']]) expect(needsUserNamespace(c), c.join(' ')).to.equal(false);
    for (const c of [['images'], ['pull'], ['image', 'ls'], ['unshare'], ['info'], ['run']]) expect(needsUserNamespace(c), c.join(' ')).to.equal(true);
  });

  it('stops taking flags at the first argument of a command that is not interspersed (peapod unshare ls -l)', () => {
    const unshare: CommandSpec = { name: 'unshare', summary: 'u', interspersed: false, flags: [{ name: 'quiet', short: 'q', type: 'bool', help: 'q' }] };
    const root: CommandSpec = { name: 'peapod', summary: 'root', commands: [unshare] };
    const p = parseArgv(root, [{ name: 'root', type: 'string', help: 'r' }], ['--root', '/r', 'unshare', '-q', 'ls', '-l', '--root', 'x']);
    if (p.kind !== 'run') throw new Error(p.kind);
    expect(p.args).to.deep.equal(['ls', '-l', '--root', 'x']);
    expect(p.flags).to.deep.equal({ quiet: true });
    expect(p.globals).to.deep.equal({ root: '/r' });
  });
});
