import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { freePort, startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, CliResult, makeCliEnv } from './cli-harness';

/** The nat table's rules, as `iptables -S` prints them. */
function natRules(): string[] {
  return execFileSync('iptables', ['-w', '5', '-t', 'nat', '-S'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** The plugin types of a sandbox's cached CNI attachment (what ADD ran and DEL will run). */
function attachedPlugins(env: CliEnv, sandboxId: string): string[] {
  const cache = JSON.parse(fs.readFileSync(path.join(env.root, 'sandboxes', sandboxId, 'cni.json'), 'utf8')) as { network: { plugins: { type: string }[] } };
  return cache.network.plugins.map((p) => p.type);
}

describe('peapod CLI: the default bridge network masquerades its subnet with one rule, and runs portmap only for published ports', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let IMG = '';

  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}: ${r.stderr}`).to.equal(0);
    return r;
  };
  const sandboxOf = (e: CliEnv) => async (ctr: string): Promise<string> => {
    // A container's own sandbox is not shown (Podman has none): its runtime spec names it.
    const id = (await e.run(['inspect', ctr, '--format', '{{.Id}}'])).stdout.trim();
    const spec = JSON.parse(fs.readFileSync(path.join(e.runroot, 'containers', id, 'config.json'), 'utf8')) as { annotations: Record<string, string> };
    return spec.annotations['io.kubernetes.cri.sandbox-id'];
  };

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage({ Cmd: ['sh'] }));
    IMG = `${registry.host}/library/busybox:latest`;
    env = makeCliEnv();
  });
  after(async () => {
    if (env) {
      await env.run(['rm', '-a', '-f', '-t', '0']);
      env.cleanup();
    }
    await registry?.stop();
  });

  it('two containers at once: one masquerade rule for the subnet, no chain per container, no portmap without -p', async () => {
    const [a, b] = await Promise.all([env.run(['run', '-d', '--name', 'masq-a', IMG, 'sleep', '1000']), env.run(['run', '-d', '--name', 'masq-b', IMG, 'sleep', '1000'])]);
    ok(a, 'run -d a');
    ok(b, 'run -d b');
    const conf = JSON.parse(fs.readFileSync(path.join(env.cniConfDir, '87-peapod-cli.conflist'), 'utf8')) as { peapod: { masquerade: string } };
    const subnet = conf.peapod.masquerade;
    const rules = natRules();
    // Other environments on this host share the default subnet: its rule is there once, however many made it.
    expect(rules.filter((r) => r.includes(`peapod-cli masquerade ${subnet}`))).to.have.length(1);
    expect(rules.find((r) => r.includes(`peapod-cli masquerade ${subnet}`))).to.match(new RegExp(`^-A POSTROUTING -s ${subnet.replace(/\./g, '\\.')} ! -d ${subnet.replace(/\./g, '\\.')} .*-j MASQUERADE$`));
    for (const ctr of ['masq-a', 'masq-b']) {
      const sb = await sandboxOf(env)(ctr);
      expect(sb).to.match(/^[0-9a-f]{64}$/);
      // The bridge plugin's ipMasq names the sandbox in its chain's comment; without it nothing does.
      expect(rules.filter((r) => r.includes(sb))).to.deep.equal([]);
      expect(attachedPlugins(env, sb)).to.deep.equal(['bridge']);
    }
    expect(fs.existsSync(path.join(env.runroot, 'cli-network', `masquerade-${subnet.replace('/', '_')}`)), 'the marker of the installed rule').to.equal(true);
    ok(await env.run(['rm', '-f', '-t', '0', 'masq-a', 'masq-b']), 'rm');
  });

  it('-p keeps portmap in the attachment', async () => {
    const hostPort = await freePort();
    ok(await env.run(['run', '-d', '--name', 'masq-p', '-p', `${hostPort}:80`, IMG, 'sleep', '1000']), 'run -d -p');
    expect(attachedPlugins(env, await sandboxOf(env)('masq-p'))).to.deep.equal(['bridge', 'portmap']);
    ok(await env.run(['rm', '-f', '-t', '0', 'masq-p']), 'rm');
  });

  it('pod start after a reboot (marker and rule gone) installs the masquerade rule again', async () => {
    // A network of its own (random subnet and bridge), so no other environment on this host shares the rule this test removes.
    const third = 100 + Math.floor(Math.random() * 150);
    const subnet = `198.19.${third}.0/24`;
    const bridge = `pmq${process.pid % 100000}`;
    const name = `peapod-mq-${process.pid}`;
    const own = makeCliEnv();
    const rule = ['-s', subnet, '!', '-d', subnet, '-m', 'addrtype', '!', '--dst-type', 'MULTICAST', '-m', 'comment', '--comment', `peapod-cli masquerade ${subnet}`, '-j', 'MASQUERADE'];
    const ruleThere = (): boolean => natRules().some((r) => r.includes(`peapod-cli masquerade ${subnet}`));
    const marker = path.join(own.runroot, 'cli-network', `masquerade-${subnet.replace('/', '_')}`);
    try {
      fs.mkdirSync(own.cniConfDir, { recursive: true });
      fs.writeFileSync(
        path.join(own.cniConfDir, '10-mq.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name,
          plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet, gateway: `198.19.${third}.1` }]] } }],
          peapod: { masquerade: subnet, portmap: 'with-ports' },
        }),
      );
      ok(await own.run(['pod', 'create', '--name', 'mq']), 'pod create');
      expect(ruleThere(), 'the rule after pod create').to.equal(true);
      ok(await own.run(['pod', 'stop', '-t', '0', 'mq']), 'pod stop');
      // What a reboot leaves: the runroot's marker gone (tmpfs) and the nat table without the rule.
      fs.rmSync(marker);
      execFileSync('iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', ...rule]);
      expect(ruleThere(), 'the rule removed').to.equal(false);
      ok(await own.run(['pod', 'start', 'mq']), 'pod start');
      expect(ruleThere(), 'the rule after pod start').to.equal(true);
      expect(fs.existsSync(marker), 'the marker after pod start').to.equal(true);
    } finally {
      await own.run(['pod', 'rm', '-a', '-f', '-t', '0']);
      own.cleanup();
      execFileSync('sh', ['-c', `while iptables -w 5 -t nat -D POSTROUTING ${rule.map((a) => `'${a}'`).join(' ')} 2>/dev/null; do :; done; ip link del ${bridge} 2>/dev/null; rm -rf /var/lib/cni/networks/${name}; true`]);
    }
  });

  it('a conflist of the user\'s own (no peapod key) is used as written: the bridge plugin masquerades, portmap runs', async () => {
    const own = makeCliEnv();
    try {
      fs.mkdirSync(own.cniConfDir, { recursive: true });
      fs.writeFileSync(
        path.join(own.cniConfDir, '10-own.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'peapod-own-test',
          plugins: [
            { type: 'bridge', bridge: 'peapodown0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '198.19.254.0/24', gateway: '198.19.254.1' }]] } },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        }),
      );
      const r = await own.run(['run', '-d', '--name', 'own-net', IMG, 'sleep', '1000']);
      expect(r.code, r.stderr).to.equal(0);
      const sb = await sandboxOf(own)('own-net');
      expect(attachedPlugins(own, sb)).to.deep.equal(['bridge', 'portmap']);
      expect(natRules().filter((l) => l.includes(sb)).length, 'the bridge plugin\'s own masquerade chain').to.be.greaterThan(0);
      expect(fs.existsSync(path.join(own.runroot, 'cli-network'))).to.equal(false);
      expect((await own.run(['rm', '-f', '-t', '0', 'own-net'])).code).to.equal(0);
      expect(natRules().filter((l) => l.includes(sb)), 'DEL removed the chain').to.deep.equal([]);
    } finally {
      await own.run(['rm', '-a', '-f', '-t', '0']);
      own.cleanup();
      execFileSync('sh', ['-c', 'ip link del peapodown0 2>/dev/null || true']);
    }
  });
});
