import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig as loadCoreConfig } from '../../src/common/config';
import { loadCriConfig as loadConfig } from '../../src/server/config';
import { renderConfigDoc } from '../../src/server/config-doc';

describe('configuration', () => {
  let dir: string;
  let main: string;
  let dropIns: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-config-'));
    main = path.join(dir, 'peapod.conf');
    dropIns = path.join(dir, 'peapod.conf.d');
    fs.mkdirSync(dropIns);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (text: string, extra: Record<string, string> = {}) => {
    fs.writeFileSync(main, text);
    for (const [n, t] of Object.entries(extra)) fs.writeFileSync(path.join(dropIns, n), t);
    return loadConfig({ configFile: main, configDir: dropIns });
  };
  const errorOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('gives the documented defaults for an empty file', () => {
    const c = load('');
    expect(c.socket).to.equal('/run/peapod/peapod.sock');
    expect(c.root).to.equal('/var/lib/peapod');
    expect(c.runtime.cgroup_driver).to.equal('cgroupfs');
    expect(c.runtime.runtimes.runc.runtime_path).to.equal('/usr/sbin/runc');
    expect(c.network.cni_bin_dirs).to.deep.equal(['/opt/cni/bin', '/usr/lib/cni']);
  });

  it('names the file and key of an unknown key', () => {
    expect(errorOf(() => load('[runtime]\ncgroup_drivr = "systemd"\n'))).to.equal(`${main}: unknown key "runtime.cgroup_drivr"`);
  });

  it('says what became of a removed key (sandbox.pause_image: peapod runs its own pause program)', () => {
    expect(errorOf(() => load('[sandbox]\npause_image = "registry.k8s.io/pause:3.10"\n'))).to.equal(
      `${main}: key "sandbox.pause_image" was removed: a pod sharing a PID namespace runs peapod's own pause program (dist/native/peapod-pause), not an image; delete the key`,
    );
  });

  it('names the file, key and expected type of a wrong type', () => {
    expect(errorOf(() => load('shutdown_timeout = "10"\n'))).to.equal(`${main}: key "shutdown_timeout" must be an integer, got string "10"`);
    expect(errorOf(() => load('[network]\ncni_bin_dirs = "/usr/lib/cni"\n'))).to.equal(
      `${main}: key "network.cni_bin_dirs" must be an array of strings, got string "/usr/lib/cni"`,
    );
    expect(errorOf(() => load('runtime = 3\n'))).to.equal(`${main}: key "runtime" must be a table, got integer`);
  });

  it('refuses durations a timer cannot wait (over 2147483 s, 24.8 days) and ports over 65535, naming the key', () => {
    for (const [text, key] of [
      ['shutdown_timeout = 2592000\n', 'shutdown_timeout'],
      ['[streaming]\nidle_timeout = 2592000\n', 'streaming.idle_timeout'],
      ['[streaming]\nstream_creation_timeout = 9999999999\n', 'streaming.stream_creation_timeout'],
      ['[image]\nconnect_timeout = 2592000\n', 'image.connect_timeout'],
      ['[image]\nidle_timeout = 2592000\n', 'image.idle_timeout'],
    ]) {
      expect(errorOf(() => load(text)), key).to.match(new RegExp(`key "${key.replace('.', '\\.')}" must be an integer of at most 2147483, got`));
    }
    expect(load('shutdown_timeout = 2147483\n').shutdown_timeout).to.equal(2147483);
    expect(errorOf(() => load('[streaming]\nport = 70000\n'))).to.equal(`${main}: key "streaming.port" must be an integer of at most 65535, got 70000`);
  });

  it('puts runtime state under the runroot unless a runtime_root is set', () => {
    fs.writeFileSync(main, 'runroot = "/run/other"\n[runtime.runtimes.kata]\nruntime_path = "/k"\nruntime_root = "/k/state"\n');
    const c = loadConfig({ configFile: main, configDir: dropIns });
    expect(c.runtime.runtimes.runc.runtime_root).to.equal('/run/other/runc');
    expect(c.runtime.runtimes.kata.runtime_root).to.equal('/k/state');
    expect(loadConfig({ configFile: main, configDir: dropIns, overrides: { runroot: '/r' } }).runtime.runtimes.runc.runtime_root).to.equal('/r/runc');
  });

  it('names the index of a bad array element', () => {
    expect(errorOf(() => load('[network]\ncni_bin_dirs = ["/a", 3]\n'))).to.equal(`${main}: key "network.cni_bin_dirs" must be an array of strings, got integer at index 1`);
  });

  it('refuses a value outside an enumeration', () => {
    expect(errorOf(() => load('log_level = "loud"\n'))).to.equal(
      `${main}: key "log_level" must be one of trace, debug, info, warn, error, fatal, got "loud"`,
    );
  });

  it('names a bad drop-in, not the main file', () => {
    const bad = path.join(dropIns, '20-bad.conf');
    expect(errorOf(() => load('', { '10-good.conf': 'log_level = "debug"\n', '20-bad.conf': '[runtime]\nconmon_path = 12\n' }))).to.equal(
      `${bad}: key "runtime.conmon_path" must be a string, got integer`,
    );
  });

  it('reports TOML syntax errors with the file and line', () => {
    expect(errorOf(() => load('root = "/x"\nthis is not toml\n'))).to.match(new RegExp(`^${main.replace(/[.]/g, '\\.')}: invalid TOML: line 2`));
  });

  it('applies drop-ins in lexical order, later wins, and flags win over files', () => {
    fs.writeFileSync(main, 'log_level = "warn"\nroot = "/a"\n');
    fs.writeFileSync(path.join(dropIns, '20-b.conf'), 'log_level = "error"\n');
    fs.writeFileSync(path.join(dropIns, '10-a.conf'), 'log_level = "debug"\nroot = "/b"\n');
    fs.writeFileSync(path.join(dropIns, 'ignored.txt'), 'not = "read"\n');
    let c = loadConfig({ configFile: main, configDir: dropIns });
    expect(c.log_level).to.equal('error');
    expect(c.root).to.equal('/b');
    c = loadConfig({ configFile: main, configDir: dropIns, overrides: { root: '/flag' } });
    expect(c.root).to.equal('/flag');
  });

  it('adds runtime handlers beside the default one', () => {
    const c = load('[runtime.runtimes.kata]\nruntime_path = "/usr/bin/kata"\n');
    expect(c.runtime.runtimes.kata).to.deep.equal({ runtime_path: '/usr/bin/kata', runtime_root: '/run/peapod/kata' });
    expect(c.runtime.runtimes.runc.runtime_path).to.equal('/usr/sbin/runc');
    expect(errorOf(() => load('[runtime.runtimes.kata]\npath = "/x"\n'))).to.equal(`${main}: unknown key "runtime.runtimes.kata.path"`);
  });

  it('refuses a default runtime that is not configured', () => {
    expect(errorOf(() => load('[runtime]\ndefault_runtime = "crun"\n'))).to.contain('"runtime.default_runtime" names "crun"');
  });

  it('refuses a missing file named explicitly', () => {
    expect(errorOf(() => loadConfig({ configFile: path.join(dir, 'nope.conf'), configDir: dropIns }))).to.equal(
      `${path.join(dir, 'nope.conf')}: config file not found`,
    );
  });

  it("gives the core its keys of the shared file, skipping the CRI server's own", () => {
    fs.writeFileSync(main, 'socket = "/x.sock"\nshutdown_timeout = 3\nroot = "/r"\n[streaming]\nport = 7\n');
    const core = loadCoreConfig({ configFile: main, configDir: dropIns }) as unknown as Record<string, unknown>;
    expect(core.root).to.equal('/r');
    expect(core).to.not.have.any.keys('socket', 'shutdown_timeout', 'streaming');
    fs.writeFileSync(main, '[runtime]\ncgroup_drivr = "systemd"\n');
    expect(errorOf(() => loadCoreConfig({ configFile: main, configDir: dropIns }))).to.equal(`${main}: unknown key "runtime.cgroup_drivr"`);
  });

  it('is documented: docs/config.md is the rendering of the schema', () => {
    const doc = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
    expect(doc).to.equal(renderConfigDoc(), 'docs/config.md is stale: run `npm run docs`');
  });
});
