import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { attachedNetwork, DEFAULT_BRIDGE, DEFAULT_CONFLIST_FILE, DEFAULT_NETWORK_NAME, defaultConflist, ensureDefaultNetwork, networkExtras, pickDefaultSubnet } from '../../src/cli/network';
import { masqueradeMarker, masqueradeRule } from '../../src/cli/network-masquerade';
import { checkSandboxSpec } from '../../src/runtime-service/sandbox/spec';

describe('CLI network: the default bridge network', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cli-net-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('picks 198.19.0.0/24 unless a host interface uses it, then the next free /24', () => {
    expect(pickDefaultSubnet(new Set())).to.equal('198.19.0.0/24');
    expect(pickDefaultSubnet(new Set(['198.19.0.0/24', '198.19.1.0/24']))).to.equal('198.19.2.0/24');
    const all = new Set(Array.from({ length: 256 }, (_v, i) => `198.19.${i}.0/24`));
    expect(() => pickDefaultSubnet(all)).to.throw(/no free \/24/);
  });

  it('the default conflist is bridge + host-local + portmap with the documented names', () => {
    const c = defaultConflist('198.19.4.0/24') as { name: string; plugins: Record<string, unknown>[] };
    expect(c.name).to.equal(DEFAULT_NETWORK_NAME);
    expect(c.plugins.map((p) => p.type)).to.deep.equal(['bridge', 'portmap']);
    // No per-container masquerade chain: one rule for the subnet (network-masquerade.ts), asked for by the peapod key.
    expect(c.plugins[0]).to.include({ bridge: DEFAULT_BRIDGE, isGateway: true, hairpinMode: true, ipMasq: false });
    expect((c as Record<string, unknown>).peapod).to.deep.equal({ masquerade: '198.19.4.0/24', portmap: 'with-ports' });
    expect(c.plugins[0].promiscMode).to.equal(undefined);
    expect(c.plugins[0].ipam).to.deep.equal({ type: 'host-local', ranges: [[{ subnet: '198.19.4.0/24', gateway: '198.19.4.1' }]], routes: [{ dst: '0.0.0.0/0' }] });
    expect(c.plugins[1]).to.deep.equal({ type: 'portmap', capabilities: { portMappings: true } });
    expect(DEFAULT_BRIDGE.length).to.be.at.most(15);
  });

  it('writes the default into an empty or missing directory once, then reads it back', () => {
    const confDir = path.join(dir, 'net.d');
    const first = ensureDefaultNetwork(confDir);
    expect(first.created).to.equal(true);
    expect(first.conf.name).to.equal(DEFAULT_NETWORK_NAME);
    expect(first.conf.file).to.equal(path.join(confDir, DEFAULT_CONFLIST_FILE));
    expect(first.conf.plugins[0].ipam).to.have.nested.property('ranges[0][0].subnet').that.matches(/^198\.19\.\d+\.0\/24$/);
    const second = ensureDefaultNetwork(confDir);
    expect(second.created).to.equal(false);
    expect(second.conf).to.deep.equal(first.conf);
    expect(fs.readdirSync(confDir)).to.deep.equal([DEFAULT_CONFLIST_FILE]);
  });

  it('uses a configuration the directory has, and refuses to hide broken ones behind the default', () => {
    fs.writeFileSync(path.join(dir, '10-mine.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'mine', plugins: [{ type: 'bridge', bridge: 'br-mine' }] }));
    const mine = ensureDefaultNetwork(dir);
    expect(mine).to.deep.include({ created: false });
    expect(mine.conf.name).to.equal('mine');
    fs.rmSync(path.join(dir, '10-mine.conflist'));
    fs.writeFileSync(path.join(dir, '10-broken.conflist'), '{not json');
    expect(() => ensureDefaultNetwork(dir)).to.throw(/network: no valid CNI network configuration in .*10-broken\.conflist/);
    expect(fs.existsSync(path.join(dir, DEFAULT_CONFLIST_FILE))).to.equal(false);
  });
});

describe('CLI network: the peapod key (masquerade rule, portmap only with ports)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cli-net-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the default network asks for the subnet rule and portmap with ports only; a conflist without the key asks nothing', () => {
    const def = ensureDefaultNetwork(path.join(dir, 'net.d')).conf;
    const subnet = (def.plugins[0].ipam as { ranges: { subnet: string }[][] }).ranges[0][0].subnet;
    expect(networkExtras(def.file)).to.deep.equal({ masquerade: subnet, portmapWithPortsOnly: true });
    const mine = path.join(dir, '10-mine.conflist');
    fs.writeFileSync(mine, JSON.stringify({ cniVersion: '1.0.0', name: 'mine', plugins: [{ type: 'bridge', ipMasq: true }, { type: 'portmap' }] }));
    expect(networkExtras(mine)).to.deep.equal({ portmapWithPortsOnly: false });
    fs.writeFileSync(mine, JSON.stringify({ cniVersion: '1.0.0', name: 'mine', plugins: [{ type: 'bridge' }], peapod: { masquerade: '0.0.0.0/0; rm -rf /' } }));
    expect(networkExtras(mine), 'not a subnet: no rule').to.deep.equal({ portmapWithPortsOnly: false });
    expect(networkExtras(path.join(dir, 'missing.conflist'))).to.deep.equal({ portmapWithPortsOnly: false });
  });

  it('attaches without portmap only when asked and no port is published; a user conflist keeps its plugins', () => {
    const conf = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }], file: '/x' };
    expect(attachedNetwork(conf, { portmapWithPortsOnly: true }, false).plugins.map((p) => p.type)).to.deep.equal(['bridge']);
    expect(attachedNetwork(conf, { portmapWithPortsOnly: true }, true)).to.equal(conf);
    expect(attachedNetwork(conf, { portmapWithPortsOnly: false }, false)).to.equal(conf);
    expect(conf.plugins, 'the conflist itself is left as it is').to.have.length(2);
  });

  it('the rule masquerades the subnet to elsewhere but multicast; its marker lives in the runroot', () => {
    expect(masqueradeRule('198.19.3.0/24')).to.deep.equal(['-s', '198.19.3.0/24', '!', '-d', '198.19.3.0/24', '-m', 'addrtype', '!', '--dst-type', 'MULTICAST', '-m', 'comment', '--comment', 'peapod-cli masquerade 198.19.3.0/24', '-j', 'MASQUERADE']);
    expect(masqueradeMarker('/run/peapod', '198.19.3.0/24')).to.equal('/run/peapod/cli-network/masquerade-198.19.3.0_24');
  });
});

describe('SandboxSpec.cniNetwork', () => {
  it('is kept by the check; port mappings without a CNI network are refused naming the field', () => {
    const conf = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }], file: '/x' };
    expect(checkSandboxSpec({ metadata: { name: 'p' }, cniNetwork: conf }).cniNetwork).to.deep.equal(conf);
    expect(checkSandboxSpec({ metadata: { name: 'p' }, cniNetwork: null }).cniNetwork).to.equal(null);
    expect(checkSandboxSpec({ metadata: { name: 'p' } }).cniNetwork).to.equal(undefined);
    expect(() => checkSandboxSpec({ metadata: { name: 'p' }, cniNetwork: null, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }))
      .to.throw(/port mappings need a CNI network/)
      .with.property('field', 'portMappings');
  });
});
