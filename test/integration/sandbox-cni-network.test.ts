import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/common/config';
import { parseNetworkConfFile } from '../../src/runtime-service/cni/network-config';
import { openPeapod, Peapod } from '../../src/runtime-service/peapod';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { run } from './harness/netns-tools';

describe('sandboxes: the network a spec names (SandboxSpec.cniNetwork)', function () {
  this.timeout(60_000);
  let dir: string;
  let network: TestCniNetwork;
  let peapod: Peapod;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cninet-'));
    network = makeTestCniNetwork();
    const emptyConfDir = path.join(dir, 'empty-net.d');
    fs.mkdirSync(emptyConfDir);
    // The configured directory has no network: only the spec's can be used.
    fs.writeFileSync(path.join(dir, 'peapod.conf'), '');
    const config = loadConfig({ configFile: path.join(dir, 'peapod.conf'), configDir: emptyConfDir, overrides: { root: path.join(dir, 'root'), runroot: path.join(dir, 'run') } });
    config.network.cni_conf_dir = emptyConfDir;
    config.network.cni_bin_dirs = ['/usr/lib/cni'];
    peapod = openPeapod(config, pino({ level: 'silent' }), { owner: 'cli' });
    await peapod.recover({ reconcileRuntime: false, watchExits: false });
  });
  after(async () => {
    for (const p of peapod?.sandboxes.list() ?? []) await peapod.sandboxes.remove(p.id);
    peapod?.close();
    network?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('attaches a pod to the network list given, not the configured directory', async () => {
    const conf = parseNetworkConfFile(fs.readdirSync(network.confDir).map((n) => path.join(network.confDir, n))[0]);
    if (typeof conf === 'string') throw new Error(conf);
    const pod = await peapod.sandboxes.create({ metadata: { name: 'given' }, namespaceOptions: { pid: 'CONTAINER' }, cniNetwork: conf });
    expect(pod.ip).to.match(new RegExp(`^${network.subnet.split('.').slice(0, 3).join('\\.')}\\.`));
    expect(await run('nsenter', [`--net=${pod.namespaces.network}`, 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).to.contain(pod.ip!);
    await peapod.sandboxes.remove(pod.id);
  });

  it('cniNetwork null: a network namespace with loopback alone, no CNI', async () => {
    const pod = await peapod.sandboxes.create({ metadata: { name: 'none' }, namespaceOptions: { pid: 'CONTAINER' }, cniNetwork: null });
    expect(pod.ip).to.equal(undefined);
    const links = await run('nsenter', [`--net=${pod.namespaces.network}`, 'ip', '-o', 'link', 'show']);
    expect(links.split('\n').map((l) => l.split(':')[1].trim())).to.deep.equal(['lo']);
    expect(links).to.match(/lo: <LOOPBACK,UP/);
    expect(fs.existsSync(path.join(dir, 'root', 'sandboxes', pod.id, 'cni.json'))).to.equal(false);
    await peapod.sandboxes.remove(pod.id);
  });

  it('without cniNetwork the configured directory is used (the CRI way): none there, refused', async () => {
    const err = await peapod.sandboxes.create({ metadata: { name: 'default' }, namespaceOptions: { pid: 'CONTAINER' } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/network plugin not ready/);
  });
});
